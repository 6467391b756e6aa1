"""Callaway–Sant'Anna group-time effects and their aggregations (R ``did`` semantics): ``att_gt`` → ``aggte``.

Input preparation (:mod:`.attgt_data`), the 2x2 estimators of DRDID (:mod:`.drdid`), cohort sufficient statistics
(:mod:`.grouped`), the cells' influence functions held as factors (:mod:`.influence`) and their weighted
combinations (:mod:`.combination`), the ``att_gt`` result (:mod:`.attgt_result`) and ``aggte`` (:mod:`.aggte`).
"""

from .aggte import aggte
from .att_gt import att_gt
from .attgt_result import AttGtResult

__all__ = ["att_gt", "aggte", "AttGtResult"]
