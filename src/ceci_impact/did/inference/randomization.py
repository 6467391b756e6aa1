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

Exact only when the schedule was randomised across clusters; with an observational roll-out it is a
design-based approximation that fails when opening depends on cluster size or trends (MacKinnon & Webb 2020).
Not available with covariates, the not-yet-treated comparison, anticipation, or repeated cross sections.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._options import CeciError
from ..core.bootstrap import cluster_codes, group_sums


def _cohort_means(O: np.ndarray, Yc: np.ndarray, Wc: np.ndarray) -> np.ndarray:
    """Weighted cohort means ``(B, ncoh, T)`` for assignments ``O`` (B, ncoh, G) of clusters to cohorts."""
    num = np.einsum("bkg,gt->bkt", O, Yc)
    den = np.einsum("bkg,g->bk", O, Wc)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den[:, :, None]


def _aggregate(O: np.ndarray, Yc: np.ndarray, Wc: np.ndarray, cohorts: np.ndarray, tlist: np.ndarray,
               columns: list, universal: bool) -> np.ndarray:
    """Aggregated estimates ``(B, len(columns))`` under the assignments ``O``; a column is ``("simple", None)``
    or ``("e", e)`` (event time ``e``)."""
    M = _cohort_means(O, Yc, Wc)
    size = np.einsum("bkg,g->bk", O, Wc)
    tpos = {float(t): j for j, t in enumerate(tlist)}
    out = np.zeros((O.shape[0], len(columns)))
    for m, (kind, e) in enumerate(columns):
        if kind == "avg_e":  # the dynamic aggregation's overall effect: the mean of its post event times
            out[:, m] = _aggregate(O, Yc, Wc, cohorts, tlist, [("e", x) for x in e], universal).mean(axis=1)
            continue
        num = np.zeros(O.shape[0])
        den = np.zeros(O.shape[0])
        for k, g in enumerate(cohorts):
            if g == 0 or float(g) - 1 not in tpos:
                continue
            b0 = tpos[float(g) - 1]
            ts = [t for t in tlist if t >= g] if kind == "simple" else [g + e]
            for t in ts:
                if float(t) not in tpos:
                    continue
                j = tpos[float(t)]
                b = b0 if (t >= g or universal) else j - 1
                att = (M[:, k, j] - M[:, k, b]) - (M[:, 0, j] - M[:, 0, b])
                num += size[:, k] * att
                den += size[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, m] = num / den
    return out


def ri_draws(res: Any, columns: list, B: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` of every permutation (``(B, m)`` each; row 0 the observed schedule).

    Parameters
    ----------
    res
        Clustered ``AttGtResult`` (panel, no covariates, never-treated comparison, no anticipation).
    columns
        ``("simple", None)``, ``("e", e)`` or ``("avg_e", event_times)`` per column.
    B
        Permutations (the first is the identity).
    seed
        Seed of the permutations.

    Returns
    -------
    tuple
    """
    p = res.params
    if (p.get("xformla") or p.get("control_group") != "nevertreated" or p.get("anticipation", 0)
            or res.influence.Y is None or not p.get("panel", True)):
        raise CeciError("small_cluster='ri': randomisation inference needs a balanced panel without covariates, "
                        "control_group='nevertreated' and anticipation=0; found "
                        f"xformla={p.get('xformla')!r}, control_group={p.get('control_group')!r}, "
                        f"anticipation={p.get('anticipation')}")
    codes, G = cluster_codes(res.cluster)
    g_unit = np.asarray(res.unit_group, float)
    g_cl = np.full(G, np.nan)
    g_cl[codes] = g_unit
    if np.any(np.bincount(codes, weights=(g_unit != g_cl[codes]).astype(float), minlength=G) > 0):
        raise CeciError("small_cluster='ri': the opening date varies within a cluster; randomisation inference "
                        "permutes whole clusters' dates")
    Y = np.asarray(res.influence.Y, float)
    w = np.asarray(res.unit_weights, float)
    tlist = np.asarray(res.tlist, float)
    D = ((g_unit[:, None] > 0) & (tlist[None, :] >= g_unit[:, None])).astype(float)
    Yc = np.asarray(group_sums(codes, G, Y * w[:, None]))
    Dc = np.asarray(group_sums(codes, G, D * w[:, None]))
    Wc = np.bincount(codes, weights=w, minlength=G)
    cohorts = np.unique(g_cl)
    rng = np.random.default_rng(seed)
    perms = np.vstack([np.arange(G)] + [rng.permutation(G) for _ in range(B - 1)])
    lab = np.searchsorted(cohorts, g_cl)[perms]  # (B, G): cohort index of each cluster under the permutation
    universal = p.get("base_period") == "universal"
    a, b = [], []
    step = max(1, 4_000_000 // (G * cohorts.size))  # blocks of permutations: memory of a few million numbers
    for lo in range(0, B, step):
        O = (lab[lo:lo + step, None, :] == np.arange(cohorts.size)[None, :, None]).astype(float)
        a.append(_aggregate(O, Yc, Wc, cohorts, tlist, columns, universal))
        b.append(_aggregate(O, Dc, Wc, cohorts, tlist, columns, universal))
    return np.vstack(a), np.vstack(b)


def ri_ci(a: np.ndarray, b: np.ndarray, alp: float, max_steps: int = 60) -> tuple[float, float, float]:
    """Confidence set of one column by inverting the permutation test, and its p-value at 0.

    Parameters
    ----------
    a, b
        Draws of :func:`ri_draws` for the column (row 0 observed).
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

    def pval(theta0: float) -> float:
        return float(np.mean(np.abs(a - theta0 * b) >= abs(est - theta0) * (1 - 1e-10)))

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
