"""Staggered difference-in-differences estimators with R-compatible argument names."""

from .att_gt import DidWarning, att_gt
from .results import AggteResult, AttGtResult

__all__ = ["att_gt", "AttGtResult", "AggteResult", "DidWarning"]
