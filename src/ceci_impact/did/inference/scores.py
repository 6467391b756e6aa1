"""Cluster-by-cohort sums of an aggregation's influence functions: what every small-cluster rule reads.

Without covariates, the Callaway–Sant'Anna outcome-regression aggregations are linear combinations of weighted
cohort means of outcome changes (one mean per cohort and period pair, the never-treated or not-yet-treated units
forming the comparison means). Each unit's influence function is its weighted deviation from its cohort's mean,
so the aggregated estimate is the linear functional ``c' beta`` of a weighted regression of unit-level outcome
combinations on cohort indicators. :class:`ClusterScores` keeps, for columns ``m`` of an aggregation
(overall effect, event times):

- ``S[c, g, m]``: the sum over the units of cluster ``c`` and cohort ``g`` of the influence function (so that
  ``theta_hat - theta ~= sum_cg S[c, g] / n``);
- ``h[c, g]``: the leverage of cluster ``c`` in cohort ``g``'s mean, its share of the cohort's weight;
- ``A[g, m]``: how much of column ``m`` is cohort ``g``'s treated mean (the sum of the aggregation weights of the
  cohort's cells), which is what a constant effect shifts (restricted scores, :mod:`.wild`);
- ``K[c, g, m]`` (on demand): ``sum ||kappa_i||^2`` over the cluster's units of the cohort, ``kappa_i`` the
  coefficients of unit ``i``'s outcomes in column ``m`` (the working model of the Bell–McCaffrey degrees of
  freedom, :mod:`.cr2`).

With the not-yet-treated comparison a unit also enters other cohorts' comparison means; it is then counted with its
own cohort (an approximation of the leverage, stated in the rule's label). Covariates in ``reg``/``dr``/``ipw``
add estimated nuisance terms whose leverage is not counted either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.bootstrap import cluster_codes, group_sums


@dataclass(eq=False)
class ClusterScores:
    """Cluster x cohort sums of influence functions of one or more aggregated parameters.

    Parameters
    ----------
    S : numpy.ndarray
        Cluster x cohort x parameter sums of the influence functions, shape ``(G, ncoh, m)``.
    h : numpy.ndarray
        Share of each cohort's weight held by each cluster, shape ``(G, ncoh)``.
    A : numpy.ndarray
        Aggregation weights summed by cohort, shape ``(ncoh, m)`` (zero for the never treated).
    n : int
        Number of units.
    estimate : numpy.ndarray
        The aggregated estimates, shape ``(m,)``.
    cohorts : numpy.ndarray
        Cohort values, shape ``(ncoh,)`` (0 = never treated).
    treated_cluster : numpy.ndarray
        Whether each cluster has treated units, shape ``(G,)``.
    """

    S: np.ndarray  # (G, ncoh, m)
    h: np.ndarray  # (G, ncoh)
    A: np.ndarray  # (ncoh, m)
    n: int
    estimate: np.ndarray  # (m,)
    cohorts: np.ndarray  # (ncoh,) cohort values (0 = never treated)
    treated_cluster: np.ndarray  # (G,) bool: the cluster has treated units
    _k: Any = field(default=None, repr=False)  # callable returning K (G, ncoh, m), or None

    @property
    def G(self) -> int:
        return self.S.shape[0]

    @property
    def m(self) -> int:
        return self.S.shape[2]

    def column(self, j: int) -> ClusterScores:
        """The scores of column ``j`` only.

        Parameters
        ----------
        j : int
            Index of the parameter (column) to keep.
        """
        k = self._k
        return ClusterScores(self.S[:, :, [j]], self.h, self.A[:, [j]], self.n, self.estimate[[j]], self.cohorts,
                             self.treated_cluster, None if k is None else (lambda: k()[:, :, [j]]))

    def cluster_sums(self) -> np.ndarray:
        """``(G, m)`` cluster sums of the influence functions."""
        return self.S.sum(axis=1)

    def K(self) -> np.ndarray | None:
        """Working-model variance weights (see the module docstring); None when unavailable."""
        if self._k is None:
            return None
        if not isinstance(self._k, np.ndarray):
            self._k = self._k()
        return self._k


def cluster_scores(res: Any, inf: np.ndarray, W: np.ndarray, estimate: np.ndarray) -> ClusterScores:
    """Build :class:`ClusterScores` for the aggregation columns ``inf`` (n x m) formed from the cells with the
    weights ``W`` (cells x m) of the ``att_gt`` result ``res`` (clustered by ``res.cluster``).

    Parameters
    ----------
    res
        The ``AttGtResult`` the aggregation came from (clustered).
    inf
        Influence functions of the aggregated parameters, one column each.
    W
        Aggregation weights of the cells, one column per parameter.
    estimate
        The aggregated estimates.

    Returns
    -------
    ClusterScores
    """
    inf = np.asarray(inf, float).reshape(res.n, -1)
    W = np.asarray(W, float).reshape(res.att.size, -1)
    codes, G = cluster_codes(res.cluster)
    cohorts, coh = np.unique(res.unit_group, return_inverse=True)
    nc = cohorts.size
    cc = codes * nc + coh
    S = np.asarray(group_sums(cc, G * nc, np.nan_to_num(inf))).reshape(G, nc, -1)
    w = np.asarray(res.unit_weights, float)
    Wcg = np.bincount(cc, weights=w, minlength=G * nc).reshape(G, nc)
    Wg = Wcg.sum(axis=0)
    h = np.divide(Wcg, Wg, out=np.zeros_like(Wcg), where=Wg > 0)
    A = np.zeros((nc, W.shape[1]))
    cpos = np.searchsorted(cohorts, res.group)
    ok = (cpos < nc) & (cohorts[np.minimum(cpos, nc - 1)] == res.group)
    np.add.at(A, cpos[ok], W[ok])
    A[cohorts == 0] = 0.0
    treated = np.bincount(codes, weights=(np.asarray(res.unit_group) > 0).astype(float), minlength=G) > 0

    def k():
        return _working_k(res, W, cc, G, nc)

    return ClusterScores(S, h, A, int(res.n), np.asarray(estimate, float).ravel(), cohorts, treated, k)


def _working_k(res: Any, W: np.ndarray, cc: np.ndarray, G: int, nc: int) -> np.ndarray | None:
    """``sum_{i in c, g} ||kappa_i||^2`` from the influence factors (outcome coefficients of every batch);
    None for repeated cross sections (no factors)."""
    from ..cs.influence import CellInfluence, PanelBatch

    infl = res.influence
    if infl.Y is None or any(not isinstance(b, PanelBatch) for b in infl.batches):
        return None
    T = infl.Y.shape[1]
    us = [CellInfluence._outcome_coefficients(b, W, T) for b in infl.batches]
    out = infl._unit_terms(us, cc, G * nc, np.ones(infl.n), W.shape[1])
    return np.asarray(out).reshape(G, nc, -1)
