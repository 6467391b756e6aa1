"""Cohort-level sufficient statistics for 2x2 comparisons without covariates.

With an intercept-only design and weights that do not vary over time, the DR, IPW and outcome-regression
estimators of ``att_gt`` coincide: ATT(g,t) is the weighted mean change of cohort ``g`` minus that of its
comparison units, and each unit's influence function is ``c * w_i * (DY_ij - mean change of its side)``, with
``c = n_k / W_side`` (negative for comparison units). Everything ``att_gt`` needs from a comparison is then a
function of per-cohort statistics computed once, whatever the number of comparisons a cohort enters:

* ``S_h = sum_i w_i Y_i`` and ``W_h = sum_i w_i`` (point estimates);
* the ``w^2``-weighted centred cross-products of the unit-demeaned outcomes (sums of squares, so analytic
  standard errors, without forming a single influence function);
* the same sums within each cluster (clustered standard errors);
* ``V_h' (w * Y_h)`` and ``V_h' w_h`` for the Mammen weights ``V`` (the multiplier bootstrap: each unit is
  multiplied once, not once per comparison it enters).

Demeaning each unit's outcomes first removes unit levels (which cancel in every change), so the
cross-products keep their precision.
"""

from __future__ import annotations

import numpy as np

from ..core.bootstrap import group_sums
from ..core.mammen import MammenWeights


class CohortStats:
    """Per-cohort statistics of the outcomes ``Y`` (n x T, units ordered by cohort) with unit weights ``w``.

    Parameters
    ----------
    Y : numpy.ndarray
        Outcomes (units x periods), units ordered by cohort.
    w : numpy.ndarray
        Unit weights.
    g_unit : numpy.ndarray
        Each unit's cohort.
    cluster : tuple, optional
        Cluster codes and their number (None: unit clusters).
    weights : MammenWeights, optional
        Bootstrap weights, when the bootstrap runs.
    """

    def __init__(self, Y: np.ndarray, w: np.ndarray, g_unit: np.ndarray, *, cluster: tuple | None = None,
                 weights: MammenWeights | None = None):
        self.groups = np.unique(g_unit)
        edges = np.searchsorted(g_unit, self.groups, side="left")
        self.slices = dict(zip(self.groups.tolist(), zip(edges.tolist(), [*edges[1:].tolist(), g_unit.size],
                                                          strict=True), strict=True))
        self.S, self.W, self.Q2, self.mu, self.G = {}, {}, {}, {}, {}
        self.cl, self.boot = {}, {}
        T = Y.shape[1]
        biggest = max(hi - lo for lo, hi in self.slices.values())
        buf = np.empty((biggest, T + 1))  # one work array for every cohort: its pages are touched once
        ybuf = np.empty((biggest, T))
        for h, (lo, hi) in self.slices.items():
            Yh, wh = Y[lo:hi], w[lo:hi]
            unit_w = bool(np.all(wh == 1.0))
            self.S[h], self.W[h] = wh @ Yh, float(wh.sum())
            Yd = ybuf[: hi - lo]
            np.subtract(Yh, Yh.mean(axis=1, keepdims=True), out=Yd)  # unit levels removed: they cancel in changes
            if weights is not None:  # [w * Yd, w] against the Mammen weights: one pass over them (Yd: only the
                work = buf[: hi - lo]  # differences of its columns are read, and they are those of Y)
                np.multiply(Yd, wh[:, None], out=work[:, :T])
                work[:, T] = wh
                Qv = weights.vt_dot(lo, hi, work)
                self.boot[h] = (Qv[:, :T], Qv[:, T])
            if cluster is not None:
                codes, ncl = cluster
                self.cl[h] = (group_sums(codes[lo:hi], ncl, wh[:, None] * Yh), group_sums(codes[lo:hi], ncl, wh))
            w2 = wh * wh
            self.Q2[h] = float(w2.sum())
            self.mu[h] = (w2 @ Yd) / self.Q2[h] if self.Q2[h] > 0 else np.zeros(T)
            Yd -= self.mu[h]
            self.G[h] = Yd.T @ Yd if unit_w else (Yd * w2[:, None]).T @ Yd

    def comparison(self, g: float, controls: list[float], n_k: int, tc: np.ndarray, tp: np.ndarray) -> dict:
        """Estimates and influence-function summaries of the cells ``(tc, tp)`` of cohort ``g`` against the
        cohorts ``controls`` (``n_k`` units in all).

        Parameters
        ----------
        g : float
            The cohort.
        controls : list of float
            The comparison cohorts.
        n_k : int
            Units in the cohort and its controls.
        tc : numpy.ndarray
            Current period of each cell.
        tp : numpy.ndarray
            Base period of each cell.
        """
        Wt, Wc = self.W[g], sum(self.W[h] for h in controls)
        mt = self.S[g] / Wt
        mc = sum(self.S[h] for h in controls) / Wc
        dmt, dmc = mt[tc] - mt[tp], mc[tc] - mc[tp]
        side = [(g, n_k / Wt, dmt)] + [(h, -n_k / Wc, dmc) for h in controls]
        sumsq = np.zeros(tc.size)
        for h, c, m in side:
            G = self.G[h]
            dGd = G[tc, tc] + G[tp, tp] - 2 * G[tc, tp]
            sumsq += c * c * (dGd + self.Q2[h] * (self.mu[h][tc] - self.mu[h][tp] - m) ** 2)
        out = {"att": dmt - dmc, "dmt": dmt, "dmc": dmc, "ct": n_k / Wt, "cc": -n_k / Wc, "sumsq": sumsq,
               "p": Wt / (Wt + Wc)}
        if self.cl:
            out["S"] = sum(c * ((A[:, tc] - A[:, tp]) - np.outer(ws, m))
                           for (h, c, m) in side for A, ws in [self.cl[h]])
        if self.boot:
            out["boot"] = sum(c * ((Qv[:, tc] - Qv[:, tp]) - np.outer(sv, m))
                              for (h, c, m) in side for Qv, sv in [self.boot[h]])
        return out
