"""Staggered difference-in-differences estimators with R-compatible argument names.

- ``att_gt`` → ``aggte`` (Callaway–Sant'Anna, R ``did`` semantics)
- ``twfe`` (static / event study), ``bacon_decomposition``
- ``sun_abraham``, ``did_imputation`` (Borusyak–Jaravel–Spiess), ``poisson_event_study`` (PPML)
- ``compare`` (several estimators, one table and figure), ``triple_differences``
- ``synthdid`` (synthetic DiD, synthetic control, DiD for one or a few treated units; placebo, jackknife,
  bootstrap and conformal inference)
- ``honest_did``, ``honest_breakdown`` (Rambachan–Roth sensitivity: smoothness and relative magnitudes)
- ``spillover_did`` (Butts: direct and ring spillover effects), ``cont_did`` (Callaway–Goodman-Bacon–Sant'Anna:
  ATT(d) and ACRT(d) dose-response curves)
"""

from .aggte import aggte
from .att_gt import att_gt
from .attgt_data import DidWarning
from .attgt_result import AttGtResult
from .bacon import BaconResult, bacon_decomposition
from .compare import Comparison, compare, triple_differences
from .dose import DoseResult, cont_did
from .honest import HonestResult, honest_breakdown, honest_did
from .imputation import did_imputation
from .notes import DataNotes
from .poisson import poisson_event_study
from .results import AggteResult, EventStudyMoments, EventStudyResult, ResultProtocol
from .spatial import SpilloverResult, spillover_did
from .sunab import sun_abraham
from .synthdid import synthdid
from .synthdid_result import SynthDidResult
from .twfe import TwfeResult, twfe

__all__ = [
    "att_gt", "aggte", "twfe", "bacon_decomposition", "sun_abraham", "did_imputation", "poisson_event_study", "compare",
    "triple_differences", "honest_did", "honest_breakdown", "HonestResult", "AttGtResult", "AggteResult", "TwfeResult",
    "EventStudyResult", "BaconResult", "Comparison", "DidWarning", "synthdid", "SynthDidResult", "EventStudyMoments",
    "ResultProtocol", "DataNotes",
]
__all__ += ["spillover_did", "SpilloverResult", "cont_did", "DoseResult"]
