"""Randomisation inference for the reports' Callaway–Sant'Anna specification: covariates, the not-yet-treated
comparison and anticipation, by re-estimating under permuted opening schedules.

References
----------
Fisher, R. A. (1935). *The Design of Experiments*; Rosenbaum, P. R. (2002). *Observational Studies*, ch. 2
(confidence sets by inverting tests of constant-effect sharp nulls).
MacKinnon, J. G. & Webb, M. D. (2020). Randomization inference for difference-in-differences with few treated
clusters. *Journal of Econometrics* 218(2), 435–450 (cluster-level permutations of the treatment).
Roth, J. & Sant'Anna, P. H. C. (2023). Efficient estimation for staggered rollout designs. *Journal of Political
Economy: Microeconomics* 1(4), 669–709 (the design-based view: the randomness is the schedule).
Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time periods. *Journal of
Econometrics* 225(2), 200–230; Sant'Anna, P. H. C. & Zhao, J. (2020). Doubly robust difference-in-differences
estimators. *Journal of Econometrics* 219(1), 101–122 (the 2x2 estimators re-run here).

The key fact. For a fixed schedule and fixed covariates, every aggregation of the Callaway–Sant'Anna estimator
with ``est_method`` ``"reg"``, ``"dr"`` or ``"ipw"`` is LINEAR in the outcome: the outcome regression is fitted on
the comparison units' outcome changes (linear in ``Y``), the propensity score depends on the covariates and the
schedule only, and the aggregation weights on the schedule only. Under the sharp null of a constant effect
``theta0`` the outcomes without treatment are ``Y0 = Y - theta0 * D`` (``D`` the observed treatment indicator,
``1{t >= g - anticipation}`` for treated units: the null's effect starts when units may react), so the estimate
under a permuted schedule ``pi`` is ``est_pi(Y0) + theta0 * c`` with ``c`` the estimate of a unit effect
(``est_pi(D_pi)``, the same for every ``pi``). Both parts come from two outcome columns: ``a_pi = est_pi(Y)`` and
``b_pi = est_pi(D)``, and the centred statistic is ``a_pi - theta0 * b_pi``. The test of ``theta0`` compares
``|a_pi - theta0 b_pi|`` with the observed ``|a_0 - theta0 b_0|`` (``pi = 0`` the observed schedule, counted
among the draws), and the interval inverts it (:func:`ceci_impact.did.inference.randomization.ri_ci`).

How it is computed. A permutation reassigns whole clusters' opening dates (the dates' multiset is kept, so every
cohort keeps its number of clusters); anticipation windows, comparison sets and cohort weights move with them.

- ``"reg"`` (any covariates) and ``"dr"``/``"ipw"`` without covariates: every 2x2 comparison needs only sums
  over the treated cohort and over the comparison units of ``w``, ``w x``, ``w x x'``, ``w y`` and ``w x y``
  (``y`` = the two outcome columns in every period). These are summed once per cluster (the part that does not
  depend on ``pi``), then per permutation per cohort (one sparse product), and a comparison set (never treated
  plus the cohorts not yet treated) is a never-treated block plus a suffix sum over later cohorts. Cost:
  ``O(B (G F + cells k^3))`` for ``B`` permutations, ``G`` clusters, ``F = k^2 + 2 k T`` statistics per cluster.
- ``"dr"``/``"ipw"`` with covariates: the propensity score is refitted on the units of every comparison under
  every permutation (the 2x2 estimators of :mod:`ceci_impact.did.cs.drdid` on the two outcome columns at once):
  ``O(B n k^2)`` per comparison, much slower; the number of permutations is the same.

A cell the estimator cannot estimate under a permutation (singular covariates among the comparison units, no
comparison unit, no overlap) is left out of that permutation's aggregation, as ``aggte(na_rm=True)`` does.
Exact under a randomised phase-in across clusters; with an observational roll-out a design-based approximation
(MacKinnon & Webb 2020). Not available with repeated cross sections (unbalanced panels), time-varying covariates
or weights, or an opening date that varies within a cluster: the registry then falls back, and says why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from ..._options import CeciError
from ..core.bootstrap import cluster_codes, group_sums


def _cells(res: Any) -> list[tuple]:
    """``(g, tcur, pret, thr)`` of every cell of ``res`` (R's order, as ``att_gt`` builds them); ``thr`` is the
    not-yet-treated threshold (None: never treated only)."""
    p = res.params
    tlist = np.asarray(res.tlist, float)
    antic = int(p.get("anticipation", 0))
    universal = p.get("base_period") == "universal"
    tfac, tlen = (0, tlist.size) if universal else (1, tlist.size - 1)
    cells = []
    for g in np.asarray(res.glist, float):
        idx = np.flatnonzero(tlist + antic < g)
        if not idx.size:
            continue
        for t0 in range(tlen):
            tcur = t0 + tfac
            pret = int(idx[-1]) if (universal or g <= tlist[tcur]) else t0
            thr = None if p.get("control_group") == "nevertreated" else tlist[max(t0, pret) + tfac] + antic
            cells.append((g, tcur, pret, thr))
    if len(cells) != res.att.size or not (np.array_equal([c[0] for c in cells], res.group)
                                          and np.array_equal(tlist[[c[1] for c in cells]], res.t)):
        raise CeciError("small_cluster='ri': the cells of the estimate could not be rebuilt for re-estimation")
    return cells


def _design(res: Any) -> np.ndarray:
    """The time-invariant covariate design (units x k, intercept first) ``att_gt`` used."""
    xs = [b.X for b in res.influence.batches if getattr(b, "X", None) is not None]
    if not xs:
        raise CeciError("small_cluster='ri': no estimated comparison holds the covariate design")
    if any(x is not xs[0] for x in xs[1:]) or xs[0].shape[0] != res.n:
        raise CeciError("small_cluster='ri': time-varying covariates (the design differs between periods) cannot "
                        "be re-estimated under permuted schedules here")
    return np.asarray(xs[0], float)


class ScheduleDesign:
    """What does not depend on the permutation: clusters, their opening dates, the two outcome columns, the
    covariate design and, for the fast path, every cluster's sums.

    Parameters
    ----------
    res
        Clustered ``AttGtResult`` of a balanced panel.
    """

    def __init__(self, res: Any):
        p = res.params
        Y = res.influence.Y
        if Y is None or not p.get("panel", True):
            raise CeciError("small_cluster='ri': repeated cross sections (unbalanced panel) are not re-estimated "
                            "under permuted schedules")
        notes = getattr(res, "data_notes", None)
        if any("Time-varying weights" in str(w) for w in getattr(notes, "warnings", ()) or ()):
            raise CeciError("small_cluster='ri': time-varying weights are not re-estimated under permuted schedules")
        self.res, self.p = res, p
        self.codes, self.G = cluster_codes(res.cluster)
        g_unit = np.asarray(res.unit_group, float)
        g_cl = np.full(self.G, np.nan)
        g_cl[self.codes] = g_unit
        if np.any(g_unit != g_cl[self.codes]):
            raise CeciError("small_cluster='ri': the opening date varies within a cluster; randomisation inference "
                            "permutes whole clusters' dates")
        self.g_cl = g_cl
        self.pool = self._pool(getattr(res, "ri_pool", None))
        self.cohorts = np.unique(g_cl)  # sorted, 0 (never treated) first when present
        self.tlist = np.asarray(res.tlist, float)
        self.T = self.tlist.size
        self.antic = int(p.get("anticipation", 0))
        self.w = np.asarray(res.unit_weights, float)
        self.cells = _cells(res)
        self.X = _design(res)
        self.k = self.X.shape[1]
        D = (g_unit[:, None] > 0) & (self.tlist[None, :] >= g_unit[:, None] - self.antic)
        self.V = np.hstack([np.asarray(Y, float), D.astype(float)])  # the two outcome columns: Y then D
        self.fast = p.get("est_method") == "reg" or self.k == 1
        if self.fast:
            self._cluster_sums()

    def _pool(self, unit_pool: np.ndarray | None) -> np.ndarray:
        """Clusters whose date the all-cluster permutation may change (``att_gt``'s ``ri_pool``; every cluster
        without one). Every cluster that opens must be in it, and the flag must not vary within a cluster."""
        if unit_pool is None:
            return np.ones(self.G, bool)
        unit_pool = np.asarray(unit_pool, bool)
        pool = np.bincount(self.codes, weights=unit_pool, minlength=self.G) > 0
        if np.any(pool[self.codes] != unit_pool):
            raise CeciError("small_cluster='ri': the ri_pool flag varies within a cluster")
        if np.any((self.g_cl > 0) & ~pool):
            raise CeciError(f"small_cluster='ri': {int(np.sum((self.g_cl > 0) & ~pool))} cluster(s) that open lie "
                            "outside ri_pool (the clusters that could have been assigned a date)")
        return pool

    def _cluster_sums(self) -> None:
        """Every cluster's sums (G x F): count, w, w x, w x x', x x' (unweighted), w y, w x y."""
        X, w, V, k = self.X, self.w, self.V, self.k
        n = w.size
        xx = (X[:, :, None] * X[:, None, :]).reshape(n, k * k)
        parts = [np.ones((n, 1)), w[:, None], w[:, None] * X, w[:, None] * xx, xx, w[:, None] * V]
        parts += [(w * X[:, j])[:, None] * V for j in range(k)]
        self.S = np.asarray(group_sums(self.codes, self.G, np.hstack(parts)))
        T2 = 2 * self.T
        o = np.cumsum([0, 1, 1, k, k * k, k * k, T2, k * T2])
        self.slices = {name: slice(o[i], o[i + 1]) for i, name in
                       enumerate(["n", "w", "x", "wxx", "xx", "v", "xv"])}

    def permutations(self, B: int, seed: int, scope: str = "clusters") -> np.ndarray:
        """Cohort index of every cluster under ``B`` permutations (row 0 the observed schedule).

        Parameters
        ----------
        B
            Permutations, the observed schedule included.
        seed
            Seed of the permutations.
        scope
            ``"clusters"``: every cluster's date (never opened included) is permuted across the clusters of the
            pool (``att_gt``'s ``ri_pool``: the candidate sites; every cluster without one), the others kept never
            treated; ``"timing"``: the dates are permuted among the clusters that open, the never-opened ones kept.

        Returns
        -------
        numpy.ndarray
            ``(B, G)`` integer labels into :attr:`cohorts`.
        """
        rng = np.random.default_rng(seed)
        lab = np.searchsorted(self.cohorts, self.g_cl)
        if scope == "timing":
            pool = np.flatnonzero(self.g_cl > 0)
            _, counts = np.unique(self.g_cl[pool], return_counts=True)
            if _log_multinomial(counts) < np.log(MIN_ASSIGNMENTS):
                raise CeciError(f"small_cluster='ri_timing': the opening dates of the {pool.size} opening clusters "
                                f"can be arranged in fewer than {MIN_ASSIGNMENTS} distinct ways")
        else:
            self.check_exchangeable()
            pool = np.flatnonzero(self.pool)
            _, counts = np.unique(self.g_cl[pool], return_counts=True)
            if _log_multinomial(counts) < np.log(MIN_ASSIGNMENTS):
                raise CeciError(f"small_cluster='ri': the dates of the {pool.size} clusters of the pool can be "
                                f"arranged in fewer than {MIN_ASSIGNMENTS} distinct ways")
        out = np.tile(lab, (B, 1))
        for r in range(1, B):
            out[r, pool] = lab[pool[rng.permutation(pool.size)]]
        return out

    def check_exchangeable(self) -> float | None:
        """The guard of the all-cluster permutation: the total weight of the clusters that open against that of
        the clusters that never open (two-sided Mann–Whitney test). Permuting dates across clusters treats
        them as exchangeable; MacKinnon & Webb (2020) show randomisation inference over-rejects or loses all
        power when treated clusters differ systematically in size. Below :data:`EXCHANGEABLE_P` the rule
        refuses (the registry falls back and says why). This guard is the project's own (not a published test
        of the permutation's validity); its effect is measured by ``benchmarks/cluster_inference.py``.

        Returns
        -------
        float or None
            The p-value (None when there is nothing to compare).
        """
        from scipy.stats import mannwhitneyu

        size = np.bincount(self.codes, weights=self.w, minlength=self.G)[self.pool]
        opens = self.g_cl[self.pool] > 0
        if opens.all() or not opens.any() or np.ptp(size) == 0:
            return None
        test = mannwhitneyu(size[opens], size[~opens])
        pv = float(test.pvalue)
        if pv < EXCHANGEABLE_P:  # no quantile of the sizes in the text: a median is one unit's value (disclosure)
            side = "heavier" if test.statistic > 0.5 * opens.sum() * (~opens).sum() else "lighter"
            raise CeciError(f"small_cluster='ri': the {int(opens.sum())} clusters that open are {side} than the "
                            f"{int((~opens).sum())} that never open (Mann–Whitney p = {pv:.2g} < {EXCHANGEABLE_P}): "
                            "their dates are not exchangeable across clusters (MacKinnon & Webb 2020)")
        return pv

    def cell_estimates(self, lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ATT(g,t) of every cell for the outcome ``Y`` and for ``D`` under the schedules ``lab``.

        Parameters
        ----------
        lab
            ``(b, G)`` cohort labels of the clusters (:meth:`permutations`).

        Returns
        -------
        tuple
            ``(a, b)``, each ``(b, cells)`` (NaN where a cell cannot be estimated), and the cohort weights
            ``(b, cohorts)``.
        """
        if self.fast:
            return self._fast(lab)
        return self._unit_level(lab)

    def _cohort_sums(self, lab: np.ndarray) -> np.ndarray:
        b, G = lab.shape
        nc = self.cohorts.size
        ind = sparse.csr_matrix((np.ones(b * G), ((np.arange(b)[:, None] * nc + lab).ravel(), np.tile(np.arange(G), b))),
                                shape=(b * nc, G))
        return np.asarray(ind @ self.S).reshape(b, nc, -1)

    def _fast(self, lab: np.ndarray):
        """Cells from cohort sums (outcome regression; any 2x2 estimator without covariates), every cell and
        permutation at once: a cell's comparison sums are the never-treated block plus a suffix sum over the
        cohorts after its threshold, minus its own cohort when that lies in the suffix."""
        from ..cs.drdid import TRIM_LEVEL

        CS = self._cohort_sums(lab)
        bsz, nc, F = CS.shape
        k, T, sl = self.k, self.T, self.slices
        never = self.cohorts[0] == 0
        suffix = np.concatenate([np.cumsum(CS[:, ::-1], axis=1)[:, ::-1], np.zeros((bsz, 1, F))], axis=1)
        cells = np.array([(c[0], c[1], c[2], np.nan if c[3] is None else c[3]) for c in self.cells], float)
        g, tc, tp, thr = cells[:, 0], cells[:, 1].astype(int), cells[:, 2].astype(int), cells[:, 3]
        gi = np.searchsorted(self.cohorts, g)
        nyt = np.isfinite(thr)
        lo = np.where(nyt, np.searchsorted(self.cohorts, np.nan_to_num(thr), side="right"), nc)
        add_never = (never & (~nyt | (lo > 0))).astype(float)  # the never-treated block, when not in the suffix
        drop_own = (nyt & (g > np.nan_to_num(thr))).astype(float)

        def ctrl(idx):  # comparison sums at feature positions idx (cells x ...), (b, cells, ...)
            shape = (1, -1) + (1,) * (idx.ndim - 1)
            return (add_never.reshape(shape) * CS[:, np.zeros_like(gi)[(...,) + (None,) * (idx.ndim - 1)], idx]
                    + suffix[:, lo[(...,) + (None,) * (idx.ndim - 1)], idx]
                    - drop_own.reshape(shape) * CS[:, gi[(...,) + (None,) * (idx.ndim - 1)], idx])

        ncell = g.size
        rng_f = np.arange(F)
        one = np.ones((ncell, 1), int)
        n_c = ctrl(one * rng_f[sl["n"]])[..., 0]
        A = ctrl(one * rng_f[sl["wxx"]]).reshape(bsz, ncell, k, k)
        def trt(idx):  # the treated cohort's sums at feature positions idx, (b, cells, ...)
            return CS[:, gi[(...,) + (None,) * (idx.ndim - 1)], idx]

        w_t = trt(one * rng_f[sl["w"]])[..., 0]
        ok = (trt(one * rng_f[sl["n"]])[..., 0] > 0.5) & (n_c > 0.5)
        if k == 1:
            ok &= A[..., 0, 0] > 0
            if self.p.get("est_method") in ("dr", "ipw"):
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = w_t / (w_t + ctrl(one * rng_f[sl["w"]])[..., 0])
                ok &= share < min(0.999, TRIM_LEVEL)
        else:
            Au = ctrl(one * rng_f[sl["xx"]]).reshape(bsz, ncell, k, k)
            ok &= _well_conditioned(Au) & _well_conditioned(A)
        o = np.array([0, T])  # the two outcome columns: Y, then D
        xv0 = sl["xv"].start + np.arange(k)[:, None] * 2 * T  # (k, 1)
        idx_c = xv0[None] + (tc[:, None, None] + o[None, None, :])  # (cells, k, 2)
        idx_p = xv0[None] + (tp[:, None, None] + o[None, None, :])
        rhs = ctrl(idx_c) - ctrl(idx_p)  # (b, cells, k, 2)
        A_safe = np.where(ok[..., None, None], A, np.eye(k))
        coef = np.linalg.solve(A_safe, rhs)
        v0 = sl["v"].start
        dv = trt(v0 + tc[:, None] + o[None, :]) - trt(v0 + tp[:, None] + o[None, :])  # (b, cells, 2)
        xt = trt(one * rng_f[sl["x"]])
        with np.errstate(invalid="ignore", divide="ignore"):
            att = (dv - np.einsum("bjk,bjko->bjo", xt, coef)) / w_t[..., None]
        att[~ok] = np.nan
        ref = tc == tp  # the universal base period's reference cell: 0 by construction
        att[:, ref] = 0.0
        return att[..., 0], att[..., 1], CS[:, :, sl["w"]][:, :, 0]

    def _unit_level(self, lab: np.ndarray):
        """Cells re-estimated on the units (``"dr"``/``"ipw"`` with covariates: the propensity score is refitted
        for every comparison under every permutation)."""
        from ..cs.drdid import PANEL_BATCH, EstimationFailure, ill_conditioned, logit_fit

        est_fn = PANEL_BATCH[self.p.get("est_method")]
        bsz = lab.shape[0]
        a = np.full((bsz, len(self.cells)), np.nan)
        bb = np.full((bsz, len(self.cells)), np.nan)
        wts = np.zeros((bsz, self.cohorts.size))
        groups: dict = {}
        for j, (g, tc, tp, thr) in enumerate(self.cells):
            if tc == tp:
                a[:, j] = bb[:, j] = 0.0
                continue
            groups.setdefault((g, thr), []).append(j)
        T = self.T
        for r in range(bsz):
            gu = self.cohorts[lab[r]][self.codes]  # each unit's cohort under the permutation
            wts[r] = np.bincount(lab[r][self.codes], weights=self.w, minlength=self.cohorts.size)
            for (g, thr), js in groups.items():
                ctrl = gu == 0 if thr is None else (gu == 0) | ((gu > thr) & (gu != g))
                kept = np.flatnonzero((gu == g) | ctrl)
                D = (gu[kept] == g).astype(float)
                if D.sum() == 0 or D.sum() == D.size:
                    continue
                X, w = self.X[kept], self.w[kept]
                tcs = np.array([self.cells[j][1] for j in js])
                tps = np.array([self.cells[j][2] for j in js])
                cols = np.concatenate([tcs, tcs + T])
                base = np.concatenate([tps, tps + T])
                try:
                    ps = logit_fit(X, D, w / w.mean())
                    if ps.max() >= 0.999:
                        continue
                    if self.p.get("est_method") == "dr" and ill_conditioned((X.T * (1 - D)) @ X):
                        continue
                    DY = self.V[kept][:, cols] - self.V[kept][:, base]
                    att = est_fn(DY, D, X, w, ps)[0]
                except EstimationFailure:
                    continue
                m = len(js)
                a[r, js], bb[r, js] = att[:m], att[m:]
        return a, bb, wts


UNIT_LEVEL_BUDGET = 3e7  # permutations x cells x units of the unit-level path (about 2 microseconds each, measured)
EXCHANGEABLE_P = 0.01  # the all-cluster permutation's guard (ScheduleDesign.check_exchangeable)
MIN_ASSIGNMENTS = 200  # fewer distinct timings than this: the permutation p-value is too coarse (10 / 0.05)


def _log_multinomial(counts: np.ndarray) -> float:
    """Log of the number of distinct arrangements of dates with these multiplicities."""
    from scipy.special import gammaln

    return float(gammaln(counts.sum() + 1) - gammaln(counts + 1).sum())


def _well_conditioned(A: np.ndarray) -> np.ndarray:
    """``not ill_conditioned(A)`` of :mod:`ceci_impact.did.cs.drdid` for a stack of symmetric matrices."""
    ev = np.linalg.eigvalsh(A)
    return ev[..., 0] > np.finfo(float).eps * ev[..., -1]


def aggregate(design: ScheduleDesign, a: np.ndarray, b: np.ndarray, wts: np.ndarray,
              columns: list) -> tuple[np.ndarray, np.ndarray]:
    """The aggregated estimates of ``Y`` and ``D`` per permutation for the columns ``("simple", None)``,
    ``("e", e)`` and ``("avg_e", event_times)`` (cohort-size weights under each permutation; cells that could not
    be estimated under a permutation are left out, as ``aggte(na_rm=True)`` does).

    Parameters
    ----------
    design
        The permutation-invariant design.
    a, b
        Cell estimates of ``Y`` and ``D`` (``(B, cells)``).
    wts
        Weight of every cohort under each permutation (``(B, cohorts)``).
    columns
        What each column is (``("simple", None)``, ``("e", e)``, ``("group", g)``, ``("avg_e", es)``,
        ``("avg_g", gs)``).

    Returns
    -------
    tuple
        ``(A, Bd)``, each ``(B, len(columns))``.
    """
    group = np.array([c[0] for c in design.cells])
    t = design.tlist[[c[1] for c in design.cells]]
    gi = np.searchsorted(design.cohorts, group)
    pg = wts[:, gi] * (np.isfinite(a) & np.isfinite(b))  # (B, cells): weight 0 where a cell is missing
    a0, b0 = np.nan_to_num(a), np.nan_to_num(b)
    e_all = t - group

    def combine(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = pg * sel[None, :]
        den = w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w * a0).sum(axis=1) / den, (w * b0).sum(axis=1) / den

    A = np.full((a.shape[0], len(columns)), np.nan)
    Bd = np.full_like(A, np.nan)
    for m, (kind, e) in enumerate(columns):
        if kind == "simple":
            A[:, m], Bd[:, m] = combine(group <= t)
        elif kind == "e":
            A[:, m], Bd[:, m] = combine(np.isclose(e_all, e))
        elif kind == "group":  # one cohort's post cells; its weight is the same in each, so an equal-weight mean
            A[:, m], Bd[:, m] = combine((group == e) & (group <= t))
        elif kind == "avg_g":  # the group aggregation's overall effect: cohort-size weights under each schedule
            parts = np.array([combine((group == g) & (group <= t)) for g in e])  # (cohorts, 2, B)
            cw = wts[:, np.searchsorted(design.cohorts, np.asarray(e, float))].T * np.isfinite(parts[:, 0])
            with np.errstate(invalid="ignore", divide="ignore"):
                A[:, m] = np.nansum(cw * parts[:, 0], axis=0) / cw.sum(axis=0)
                Bd[:, m] = np.nansum(cw * parts[:, 1], axis=0) / cw.sum(axis=0)
        else:  # the dynamic aggregation's overall effect: the mean of its post-period event times
            parts = [combine(np.isclose(e_all, x)) for x in e]
            A[:, m] = np.mean([q[0] for q in parts], axis=0)
            Bd[:, m] = np.mean([q[1] for q in parts], axis=0)
    return A, Bd


def refit_draws(res: Any, columns: list, B: int, seed: int, scope: str = "clusters") -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` of every permutation (``(B, m)`` each; row 0 the observed schedule), by re-estimating the
    cells under permuted schedules (:class:`ScheduleDesign`).

    Parameters
    ----------
    res
        Clustered ``AttGtResult`` (balanced panel; any covariates, comparison group and anticipation).
    columns
        ``("simple", None)``, ``("e", e)``, ``("group", g)``, ``("avg_e", event_times)`` or ``("avg_g", cohorts)``
        per column.
    B
        Permutations (the first is the identity).
    seed
        Seed of the permutations.
    scope
        ``"clusters"`` or ``"timing"`` (:meth:`ScheduleDesign.permutations`).

    Returns
    -------
    tuple
    """
    design = ScheduleDesign(res)
    work = float(B) * design.X.shape[0] * len(design.cells)
    if not design.fast and work > UNIT_LEVEL_BUDGET:
        raise CeciError(f"small_cluster='ri': est_method={design.p.get('est_method')!r} with covariates refits the "
                        f"propensity score of every comparison under every permutation ({B} permutations x "
                        f"{len(design.cells)} cells x {design.X.shape[0]} units, beyond the budget of "
                        f"{UNIT_LEVEL_BUDGET:.0e}, about a minute); est_method='reg' is re-estimated from cluster "
                        "sums at any size, or lower biters")
    lab = design.permutations(B, seed, scope)
    F = design.S.shape[1] if design.fast else design.X.shape[0]
    step = max(1, 4_000_000 // max(1, design.cohorts.size * F))
    out_a, out_b = [], []
    for lo in range(0, B, step):
        blk = lab[lo:lo + step]
        a, b, wts = design.cell_estimates(blk)
        A, Bd = aggregate(design, a, b, wts, columns)
        out_a.append(A)
        out_b.append(Bd)
    return np.vstack(out_a), np.vstack(out_b)


def ri_interval(a: np.ndarray, b: np.ndarray, alp: float, theta_star: float = 0.0) -> tuple[float, float, float]:
    """Interval and p-value at 0 of one column from its permutation draws (row 0 the observed schedule).

    A column that measures the effect (``b_0`` = 1: the simple aggregation, a post-period event time, their
    mean) inverts the test of the constant-effect sharp null (:func:`.randomization.ri_ci`). A placebo column
    (``b_0`` = 0: a pre-period event time) tests no pre-trend with the post-period effect of the sharp null set
    at ``theta_star`` (the draws ``a_pi - theta_star b_pi``); its interval is the estimate plus or minus the
    critical value of that permutation test, the inversion of the placebo test when a pre-trend ``x`` shifts the
    estimate only (``p = (1 + #{pi != 0: |d_pi| >= |a_0 - x|}) / B``).

    Parameters
    ----------
    a, b
        Draws of the column for ``Y`` and ``D`` (``(B,)``).
    alp
        Significance level.
    theta_star
        Post-period effect under the null for a placebo column.

    Returns
    -------
    tuple
        ``(low, high, pvalue_at_zero)``.
    """
    from .randomization import ri_ci

    ok = np.isfinite(a) & np.isfinite(b)
    ok[0] = True
    a, b = a[ok], b[ok]
    if not np.isfinite(a[0]):
        return np.nan, np.nan, np.nan
    if abs(b[0]) >= 0.5:
        return ri_ci(a, b, alp)
    d = a - theta_star * b
    rest = np.sort(np.abs(d[1:]))[::-1]
    p0 = (1 + np.sum(rest >= abs(d[0]) * (1 - 1e-10))) / d.size
    k = int(np.floor(alp * d.size - 1 + 1e-9))
    if k < 0 or k >= rest.size:
        return -np.inf, np.inf, float(p0)
    return float(a[0] - rest[k]), float(a[0] + rest[k]), float(p0)


def permutation_wald(ri: dict, pre: np.ndarray, event_time: np.ndarray, base_period: str,
                     alp: float = 0.05) -> dict | None:
    """Randomisation pre-test: the Wald statistic of the pre-period event-time effects against its permutation
    distribution (Fisher 1935; MacKinnon & Webb 2020), with the post-period effect of the sharp null at the
    event study's overall estimate.

    The statistic is ``d Σ⁺ d'`` with ``d`` the pre-period draws ``a_pi - theta_star b_pi`` and ``Σ`` their second
    moment over all permutations (a symmetric function of the draws, so the test keeps its permutation
    validity); the p-value is the share of permutations, the observed one included, at least as large. Beside it,
    the linear pre-trend per period it detects with 80 % power (Roth 2022), from ``Σ`` with the non-central
    chi-squared approximation of :func:`.pretest.detectable_slope` (an approximation for a permutation test).

    Parameters
    ----------
    ri
        The ``"ri"`` record of the aggregation's inference (columns, draws ``a``, ``b``, ``theta_star``).
    pre
        Positions of the pre-period event times among the aggregation's columns.
    event_time
        Their event times.
    base_period
        ``"varying"`` or ``"universal"``.
    alp
        Level of the test whose detectable trend is reported.

    Returns
    -------
    dict or None
        ``W``, ``df``, ``pvalue``, ``method`` (``"ri_wald"``), ``draws``, ``slope80``; None when a pre-period
        column has no draws.
    """
    from scipy import optimize, stats

    cols = list(ri["columns"])
    if any(int(p) not in cols for p in pre):
        return None
    idx = [cols.index(int(p)) for p in pre]
    d = ri["a"][:, idx] - ri["theta_star"] * ri["b"][:, idx]
    d = d[np.all(np.isfinite(d), axis=1)]
    live = np.any(d != 0, axis=0)
    d, e = d[:, live], np.asarray(event_time, float)[live]
    if d.shape[1] == 0 or d.shape[0] < 2:
        return None
    S = d.T @ d / d.shape[0]
    Si = np.linalg.pinv(S)
    stat = np.einsum("bi,ij,bj->b", d, Si, d)
    out = {"W": float(stat[0]), "df": int(d.shape[1]), "pvalue": float(np.mean(stat >= stat[0] * (1 - 1e-10))),
           "method": "ri_wald", "draws": int(d.shape[0]), "slope80": None}
    a = np.ones_like(e) if base_period == "varying" else e + 1.0
    q = float(a @ Si @ a)
    if np.isfinite(q) and q > 0:
        k = e.size
        crit = stats.chi2.ppf(1 - alp, k)
        lam = optimize.brentq(lambda x: stats.ncx2.sf(crit, k, x) - 0.8, 1e-9, 1e4)
        out["slope80"] = float(np.sqrt(lam / q))
    return out
