"""Fixed-effects regression estimators: two-way fixed effects (static and event study) with the Goodman-Bacon
decomposition, Sun–Abraham, the Borusyak–Jaravel–Spiess imputation estimator and the Poisson (PPML) event study,
on the shared fixed-effects kernels of :mod:`.fixed_effects`."""

from .bacon import BaconResult, bacon_decomposition
from .imputation import did_imputation
from .poisson import poisson_event_study
from .sunab import sun_abraham
from .twfe import TwfeResult, twfe

__all__ = ["twfe", "TwfeResult", "bacon_decomposition", "BaconResult", "sun_abraham", "did_imputation",
           "poisson_event_study"]
