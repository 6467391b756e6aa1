"""Staggered difference-in-differences estimators with R-compatible argument names."""

from .att_gt import DidWarning, att_gt
from .results import AggteResult, AttGtResult
from .twfe import TwfeResult, twfe

__all__ = ["att_gt", "twfe", "TwfeResult", "AttGtResult", "AggteResult", "DidWarning"]
