"""Synthetic difference-in-differences, synthetic control and DiD for one or a few treated units (R ``synthdid``).

The estimator (:mod:`.synthdid`), its panel front end (:mod:`.synthdid_panel`), the Frank–Wolfe weights
(:mod:`.synthdid_solver`), the result (:mod:`.synthdid_result`) and conformal inference (:mod:`.conformal`).
"""

from .synthdid import synthdid
from .synthdid_result import SynthDidResult

__all__ = ["synthdid", "SynthDidResult"]
