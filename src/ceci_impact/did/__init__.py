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

One package per family: :mod:`.cs` (Callaway–Sant'Anna), :mod:`.regression` (TWFE, Bacon, Sun–Abraham, imputation,
PPML), :mod:`.honest` (HonestDiD), :mod:`.synthetic` (synthdid), :mod:`.spatial` (spillovers), :mod:`.dose`
(continuous treatment), on the shared :mod:`.core` (result protocol, notes, design, bootstrap) and :mod:`.inference`
(small-cluster rules). :mod:`.registry` is the one list of registered estimators that :func:`compare`, the studies,
the specification records and the notebook parameters read.
"""

from .compare import Comparison, compare, triple_differences
from .core import AggteResult, DataNotes, DidWarning, EventStudyMoments, EventStudyResult, ResultProtocol
from .cs import AttGtResult, aggte, att_gt
from .dose import DoseResult, cont_did
from .honest import HonestResult, honest_breakdown, honest_did
from .regression import BaconResult, TwfeResult, bacon_decomposition, did_imputation, poisson_event_study, sun_abraham, twfe
from .spatial import SpilloverResult, spillover_did
from .synthetic import SynthDidResult, synthdid

__all__ = [
    "att_gt", "aggte", "twfe", "bacon_decomposition", "sun_abraham", "did_imputation", "poisson_event_study", "compare",
    "triple_differences", "honest_did", "honest_breakdown", "HonestResult", "AttGtResult", "AggteResult", "TwfeResult",
    "EventStudyResult", "BaconResult", "Comparison", "DidWarning", "synthdid", "SynthDidResult", "EventStudyMoments",
    "ResultProtocol", "DataNotes",
]
__all__ += ["spillover_did", "SpilloverResult", "cont_did", "DoseResult"]
