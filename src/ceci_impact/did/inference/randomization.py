"""Randomisation inference over the opening schedule for the Callaway–Sant'Anna aggregations.

References
----------
Fisher, R. A. (1935). *The Design of Experiments*; Rosenbaum, P. R. (2002). *Observational Studies*, ch. 2
(confidence sets by inverting tests of constant-effect sharp nulls).
MacKinnon, J. G. & Webb, M. D. (2020). Randomization inference for difference-in-differences with few treated
clusters. *Journal of Econometrics* 218(2), 435–450 (cluster-level permutations of treatment; valid when the
assignment is exchangeable across clusters, unreliable when treated clusters differ systematically in size).
Roth, J. & Sant'Anna, P. H. C. (2023). Efficient estimation for staggered rollout designs. *Journal of Political
Economy: Microeconomics* 1(4), 669–709 (the design-based view of a randomised staggered roll-out).

The opening schedule is a cluster-level assignment: every unit of a cluster opens at the cluster's date (or never).
Under a randomised phase-in, every permutation of the clusters' dates across clusters was equally likely. Under
the sharp null of a constant effect ``theta0`` the outcomes without it, ``Y - theta0 D``, do not depend on the
assignment, so the estimate recomputed under a permuted schedule has a known distribution. The aggregated
estimate is linear in the outcomes (outcome regression without covariates, never-treated comparison), so for a
permutation ``pi`` the statistic is ``a_pi - theta0 b_pi`` with ``a_pi`` the estimate from ``Y`` and ``b_pi``
from the observed ``D`` under ``pi``; ``p(theta0) = P_pi(|a_pi - theta0 b_pi| >= |theta_hat - theta0|)`` and the
confidence set inverts it. ``B`` random permutations (the identity among them) are used.

The draws come from :mod:`.refit`, which re-estimates the cells under each permuted schedule with covariates,
either comparison group and anticipation (the estimator is linear in the outcome for a fixed schedule). An earlier
closed form here (no covariates, never-treated comparison) mis-read the base period of pre-period event times
``e <= -2`` with a varying base period; it is replaced.

Exact only when the schedule was randomised across clusters; with an observational roll-out it is a
design-based approximation that fails when opening depends on cluster size or trends (MacKinnon & Webb 2020).
"""

from __future__ import annotations

import numpy as np


def ri_ci(a: np.ndarray, b: np.ndarray, alp: float, max_steps: int = 60) -> tuple[float, float, float]:
    """Confidence set of one column by inverting the permutation test, and its p-value at 0.

    Parameters
    ----------
    a, b
        Draws of :func:`.refit.refit_draws` for the column (row 0 observed).
    alp
        Significance level.
    max_steps
        Bisection steps per side.

    Returns
    -------
    tuple
        ``(low, high, pvalue_at_zero)``.
    """
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    est = float(a[0])
    b0 = float(b[0])  # the estimate of a unit effect under the observed schedule (1 for an effect column)

    def pval(theta0: float) -> float:
        return float(np.mean(np.abs(a - theta0 * b) >= abs(est - theta0 * b0) * (1 - 1e-10)))

    scale = float(np.std(a)) or 1.0
    ends = []
    for sign in (-1.0, 1.0):
        lo, hi = 0.0, scale
        while pval(est + sign * hi) > alp and hi < scale * 2**30:
            lo, hi = hi, hi * 2
        if pval(est + sign * hi) > alp:
            ends.append(np.inf)
            continue
        for _ in range(max_steps):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if pval(est + sign * mid) > alp else (lo, mid)
        ends.append(0.5 * (lo + hi))
    return est - ends[0], est + ends[1], pval(0.0)
