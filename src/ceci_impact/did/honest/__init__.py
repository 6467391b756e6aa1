"""Rambachan–Roth sensitivity analysis (R ``HonestDiD``): ``honest_did`` and ``honest_breakdown``.

The fixed-length intervals and the result (:mod:`.honest`), the Andrews–Roth–Pakes moment-inequality tests
(:mod:`.arp`), the relative-magnitudes and smoothness restrictions (:mod:`.deltarm`, :mod:`.deltasd`) and R's
random numbers reproduced (:mod:`.r_compat`).
"""

from .honest import HonestResult, honest_breakdown, honest_did

__all__ = ["honest_did", "honest_breakdown", "HonestResult"]
