"""Callaway–Sant'Anna group-time average treatment effects, ``att_gt`` (R `did` semantics)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from ..._blas import single_threaded
from ..._options import CeciError, check_option
from ..core.bootstrap import cluster_codes, summarise_draws
from ..core.mammen import MammenWeights
from ..core.notes import record_notes
from ..inference.registry import InferenceRule
from .attgt_data import (
    _balance,
    _check_group_sizes,
    _covariates,
    _panel_arrays,
    _pool_name,
    _prepare,
    _unit_facts,
    _unit_pool,
    _warn,
)
from .attgt_result import AttGtResult
from .drdid import (
    PANEL_BATCH,
    RC_ESTIMATORS,
    TRIM_LEVEL,
    EstimationFailure,
    LazyChanges,
    ill_conditioned,
    logit_fit,
)
from .grouped import CohortStats
from .influence import CellInfluence, ExplicitBatch, PanelBatch
from .sinks import Sinks, runs

ControlGroup = Literal["nevertreated", "notyettreated"]
EstMethod = Literal["dr", "ipw", "reg"]
BasePeriod = Literal["varying", "universal"]
SmallCluster = InferenceRule  # the inference registry's rules (ceci_impact.did.inference.registry)

_TINY = np.sqrt(np.finfo(float).eps) * 10


@record_notes
@single_threaded  # many small products: one BLAS thread (ceci_impact._blas), the bootstrap's large ones excepted
def att_gt(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    xformla: str | None = None,
    control_group: ControlGroup = "nevertreated",
    est_method: EstMethod = "dr",
    anticipation: int = 0,
    base_period: BasePeriod = "varying",
    allow_unbalanced_panel: bool = False,
    clustervars: list[str] | str | None = None,
    weightsname: str | None = None,
    bstrap: bool = True,
    biters: int = 1000,
    cband: bool = True,
    alp: float = 0.05,
    seed: int | None = None,
    small_cluster: SmallCluster = "none",
    ri_pool: str | None = None,
) -> AttGtResult:
    """Group-time average treatment effects of Callaway and Sant'Anna (2021).

    Arguments and semantics follow R ``did::att_gt`` (version 2.5): ``gname`` holds the first
    treated period (0 = never treated); the 2x2 comparisons use the DRDID doubly robust
    (``"dr"``), normalised IPW (``"ipw"``) or outcome-regression (``"reg"``) estimators;
    ``base_period="varying"`` compares consecutive periods before treatment and
    ``"universal"`` always uses ``g - anticipation - 1``.

    Parameters
    ----------
    data
        Long panel: one row per unit and period.
    yname, tname, idname, gname
        Outcome, period (numeric), unit id and first-treatment period columns.
    xformla
        Covariate formula such as ``"~ x1 + x2"`` (covariates taken in the base period).
    control_group
        ``"nevertreated"`` or ``"notyettreated"``.
    est_method
        ``"dr"``, ``"ipw"`` or ``"reg"``.
    anticipation
        Number of periods before ``g`` in which units may already react.
    base_period
        ``"varying"`` or ``"universal"``.
    allow_unbalanced_panel
        If True and the panel is unbalanced, use the repeated cross-section estimators
        on all observed rows (as R does); otherwise units missing a period are dropped.
    clustervars
        Cluster variables: the unit id and at most one more time-invariant variable.
    weightsname
        Sampling weights column (time-invariant).
    bstrap, biters, cband, alp
        Multiplier bootstrap (Mammen weights) with ``biters`` draws; simultaneous bands
        when ``cband``; significance level ``alp``.
    small_cluster
        ``"none"`` (R): normal intervals. ``"welch"``: with a cluster variable, the aggregations' analytic
        cluster-robust variance is split into the part from clusters with treated units and the rest, each with
        its ``G/(G-1)`` factor, and intervals use Student-t quantiles with the Welch–Satterthwaite degrees of
        freedom of the two parts (about ``G1 - 1`` when the few treated clusters dominate). An extension of R.
        ``"effective"``: the same variance, with Student-t degrees of freedom ``G* - 1`` from the effective number
        of clusters of Carter, Schnepel & Steigerwald (2017), computed from the design (how much each cluster
        weighs in the estimate under a working model of period shocks common to the cluster): ``G - 1`` when
        clusters weigh the same, towards 1 when a few dominate. The shocks are fully shared (intra-cluster
        correlation 1), the conservative end. ``"effective_fitted"``: the working model fitted to the outcomes
        instead, each unit's own noise plus a period shock its cluster shares, both variances estimated from
        the two-way residuals (``CellInfluence.shock_model``); more effective clusters when units of a cluster
        move mostly on their own. On small simulated worlds (10–15 treated sites) it was slightly
        anti-conservative (coverage 0.85–0.90 for three of five outcomes over 20 worlds), and on default worlds
        for the job-weighted wage, where a few large municipalities dominate (0.83 over 12 worlds), which is why
        the reports kept ``"effective"``. These three are heuristics, not published interval methods (kept for
        comparison). The published rules of :mod:`ceci_impact.did.inference` (``"cr2_bm"``: CR2 with
        Bell–McCaffrey degrees of freedom; ``"wcr_webb"`` / ``"wcr_rademacher"``: wild cluster restricted
        bootstrap-t; ``"wcu_webb"``: unrestricted) are applied by ``aggte`` to every aggregated parameter; see
        docs/inference.md.
    seed
        Seed of the bootstrap; ``None`` means seed 0, so results are reproducible.
    ri_pool
        Boolean, time-invariant column flagging the units whose cluster could have opened (candidate sites, opened
        or not): ``small_cluster="ri"`` permutes dates among these clusters only. ``None``: the sample's
        ``data.attrs["ri_pool"]`` if declared for this cluster variable (``attrs["ri_pool_cluster"]``;
        :mod:`ceci_impact.study.samples`), else every cluster. Not in R.

    Returns
    -------
    AttGtResult
        Frozen result: ``tidy()``, ``aggte()``, ``pretest()``, ``plot()``, ``summary()``.
    """
    clustervars = _check_args(control_group, est_method, base_period, small_cluster, alp, biters, clustervars,
                              idname)
    df, tlist, glist, uc, tc, g_unit, nT = _prepare(
        data, yname, tname, idname, gname, xformla, weightsname, clustervars, anticipation, control_group
    )
    T = len(tlist)
    df, uc, tc, g_unit, panel = _balance(df, uc, tc, g_unit, T, allow_unbalanced_panel, nT)
    nT = nT if panel and uc.size == T * g_unit.size else 0
    if not panel:
        order = np.lexsort((tc, uc))
        df, uc, tc = df.iloc[order].reset_index(drop=True), uc[order], tc[order]
    Xfirst, X_all, xnames = _covariates(df, uc, tc, xformla, panel, nT)
    w_all = df[weightsname].to_numpy(float) if weightsname else None
    n = g_unit.size
    w_unit, cluster = _unit_facts(df, uc, tc, n, w_all, panel, clustervars, nT)
    pool = _unit_pool(df, uc, n, nT, _pool_name(data, ri_pool, clustervars), clustervars, ri_pool is not None)
    _check_group_sizes(g_unit, xnames, control_group)
    cells = _cells(glist, tlist, base_period, anticipation, control_group)
    rng = np.random.default_rng(0 if seed is None else seed)
    weights = MammenWeights(rng, biters, n) if bstrap and cluster is None else None
    sinks = Sinks(n, len(cells), cluster=None if cluster is None else cluster_codes(cluster), weights=weights)
    fit = _CellFit(cells, tlist, g_unit, n, sinks)
    if panel:
        arrays = _panel_arrays(df, uc, tc, n, T, yname, weightsname, Xfirst, X_all, w_all, w_unit, len(xnames),
                               nT)
        fit.panel(arrays, est_method, xformla)
    else:
        fit.repeated_cross_sections(df, uc, tname, yname, X_all, w_all, est_method)
    fit.warn_failures()
    se, crit, na_cells = _inference(sinks, n, T, bstrap, biters, cband, alp, rng)
    sinks.release()
    fit.influence.sinks = sinks  # aggte combines these sums instead of passing over the units again
    group, tt, att = fit.group, fit.tt, fit.att

    return AttGtResult(
        group=group,
        t=tt,
        att=att,
        se=se,
        crit_val=float(crit),
        influence=fit.influence,
        cluster_analytic=bool(cluster is not None and not bstrap),
        n=int(n),
        analytic_na=na_cells,
        unit_weights=w_unit,
        unit_group=g_unit,
        cluster=cluster,
        ri_pool=pool,
        glist=np.asarray(glist, float),
        tlist=np.asarray(tlist, float),
        params=dict(
            yname=yname, tname=tname, idname=idname, gname=gname, xformla=xformla,
            control_group=control_group, est_method=est_method, anticipation=int(anticipation),
            base_period=base_period, allow_unbalanced_panel=bool(allow_unbalanced_panel),
            panel=panel, clustervars=clustervars, weightsname=weightsname, bstrap=bool(bstrap),
            biters=int(biters), cband=bool(cband), alp=float(alp), seed=seed, small_cluster=small_cluster,
            n_units=int(n), n_obs=int(len(df)), covariates=xnames,
        ),
    )


def _check_args(control_group, est_method, base_period, small_cluster, alp, biters, clustervars, idname) -> list:
    check_option("control_group", control_group, ControlGroup)
    check_option("est_method", est_method, EstMethod)
    check_option("base_period", base_period, BasePeriod)
    check_option("small_cluster", small_cluster, SmallCluster)
    if not (0 < alp < 1):
        raise CeciError(f"alp={alp} must lie strictly between 0 and 1")
    if int(biters) < 1:
        raise CeciError(f"biters={biters} must be a positive integer")
    if isinstance(clustervars, str):
        clustervars = [clustervars]
    clustervars = [c for c in (clustervars or []) if c != idname]
    if len(clustervars) > 1:
        raise CeciError(f"clustervars={clustervars!r}: at most one cluster variable beyond {idname!r} is supported")
    return clustervars


def _cells(glist, tlist, base_period, anticipation, control_group) -> list[dict]:
    """The (g, t) cells in R's order, with their base period and not-yet-treated threshold."""
    tfac = 0 if base_period == "universal" else 1
    tlen = len(tlist) if base_period == "universal" else len(tlist) - 1
    cells = []
    for g in glist:
        idx_g = np.flatnonzero(tlist + anticipation < g)
        pret_g = int(idx_g[-1]) if idx_g.size else None
        for t0 in range(tlen):
            tcur = t0 + tfac
            pret = pret_g if (base_period == "universal" or g <= tlist[tcur]) else t0
            if pret is None:
                _warn(f"There are no pre-treatment periods for the group first treated at {g:g}; "
                      "units from this group are dropped.", cohorts_without_pre_periods=[float(g)])
                break
            thr = None if control_group == "nevertreated" else tlist[max(t0, pret) + tfac] + anticipation
            cells.append({"g": g, "tcur": tcur, "pret": pret, "thr": thr,
                          "ref": base_period == "universal" and pret == tcur})
    return cells


class _CellFit:
    """ATT(g,t) of every cell; each batch's influence functions go to the sinks (sums of squares, cluster sums,
    bootstrap sums) as they are estimated and are kept only as factors (:mod:`ceci_impact.did.cs.influence`)."""

    def __init__(self, cells, tlist, g_unit, n, sinks: Sinks):
        self.cells, self.tlist, self.g_unit, self.n, self.sinks = cells, tlist, g_unit, n, sinks
        k = len(cells)
        self.group = np.array([c["g"] for c in cells], float)
        self.tt = np.array([tlist[c["tcur"]] for c in cells], float)
        self.att = np.full(k, np.nan)
        self.att[[j for j, c in enumerate(cells) if c["ref"]]] = 0.0
        self.influence = CellInfluence(n, k)
        self.failures: dict[tuple, list] = {}
        self.cohorts = np.unique(g_unit[g_unit > 0])
        self._work: dict = {}  # a work buffer the batches share (see _factor_rows)

    def control_mask(self, g, thr):
        if thr is None:
            return self.g_unit == 0
        return (self.g_unit == 0) | ((self.g_unit > thr) & (self.g_unit != g))

    def fail(self, js, why):
        for j in js:
            self.failures.setdefault((self.cells[j]["g"], why), []).append(self.tt[j])
        self.influence.fail(js)
        self.sinks.fail(js)

    def _batches(self, x_const, w_const) -> dict:
        """Cells sharing cohort, comparison set and covariate/weight period: one 2x2 design, many outcomes."""
        batches: dict[tuple, list] = {}
        for j, c in enumerate(self.cells):
            if c["ref"]:
                continue
            ckey = None if c["thr"] is None else tuple(self.cohorts[(self.cohorts > c["thr"]) & (self.cohorts != c["g"])])
            e_idx = min(c["tcur"], c["pret"])
            batches.setdefault((c["g"], ckey, 0 if x_const else e_idx, 0 if w_const else e_idx), []).append(j)
        return batches

    def panel(self, a: dict, est_method: str, xformla) -> None:
        est = PANEL_BATCH[est_method]
        self.influence.Y = a["Y"]
        stats = None
        if a["x_const"] and a["Xfirst"].shape[1] == 1 and a["w_const"]:
            stats = CohortStats(a["Y"], a["w_unit"], self.g_unit, weights=self.sinks.weights,
                                cluster=None if self.sinks.S is None else (self.sinks.codes, self.sinks.G))
            self.influence.cohort_stats = stats
            self.sinks.unit_boot.update({h: sv for h, (_, sv) in stats.boot.items()})
        elif self.sinks.weights is not None:  # units in several comparisons: their weights drawn once
            shared = self.n if any(c["thr"] is not None for c in self.cells) else int((self.g_unit == 0).sum())
            self.sinks.weights.keep(0, shared)
        for (g, ckey, xk, wk), js in self._batches(a["x_const"], a["w_const"]).items():
            Gfull = self.g_unit == g
            kept = np.flatnonzero(Gfull | self.control_mask(g, self.cells[js[0]]["thr"]))
            if stats is not None:
                self._grouped(stats, g, ckey, kept, np.asarray(js), a, est_method)
                continue
            D = Gfull[kept].astype(float)
            Xall = a["Xfirst"] if a["x_const"] else a["Xp"][:, xk, :]
            try:
                if D.sum() == 0 or D.sum() == D.size:
                    raise EstimationFailure("no treated or no control units")
                X = Xall[kept]
                w = a["w_unit"][kept] if a["w_const"] else a["Wp"][kept, wk]
                ps = None
                if est_method in ("dr", "ipw"):
                    ps = logit_fit(X, D, w / w.mean())
                    if ps.max() >= 0.999:
                        raise EstimationFailure("overlap condition violated (propensity scores reach 0.999)")
                if est_method in ("dr", "reg") and ill_conditioned((X.T * (1 - D)) @ X):
                    raise EstimationFailure(f"covariate matrix of control units is singular (collinear "
                                            f"covariates in {xformla!r}?)")
                tc = np.array([self.cells[j]["tcur"] for j in js])
                tp = np.array([self.cells[j]["pret"] for j in js])
                k = X.shape[1]  # the estimator's Z has 2 + k columns (DR, IPW) or 1 (regression); B has k or none
                U = _factor_rows(a["Y"], kept, 1 if est_method == "reg" else 2 + k, 0 if est_method == "ipw" else k,
                                 self._work)
                att, (fa, fZ, fB, fC), _ = est(LazyChanges(U[:, :a["Y"].shape[1]], tc, tp), D, X, w, ps)
            except EstimationFailure as exc:
                self.fail(js, str(exc))
                continue
            ok = np.isfinite(att)
            js = np.asarray(js)
            if not ok.all():
                self.fail(js[~ok], "estimate is not finite")
            if not ok.any():
                continue
            scale = self.n / kept.size
            self.att[js[ok]] = att[ok]
            self.influence.add(PanelBatch(js[ok], kept, fa, fZ, None if fB is None else fB[:, ok], fC[:, ok],
                                          tc[ok], tp[ok], scale, Xall))
            E = _fill_factors(U, fa * scale, fZ * scale, X, tc[ok], tp[ok], fC[:, ok],
                              None if fB is None else fB[:, ok])
            self.sinks.add_factors(js[ok], kept, U, E, unit_col=(g, a["w_unit"][kept] * D))

    def _grouped(self, stats: CohortStats, g, ckey, kept, js, a, est_method) -> None:
        """One comparison without covariates, from the cohorts' statistics (:mod:`ceci_impact.did.cs.grouped`)."""
        controls = [0.0, *ckey] if ckey is not None else [0.0]
        controls = [h for h in controls if h in stats.slices]
        nt = stats.slices[g][1] - stats.slices[g][0] if g in stats.slices else 0
        if nt == 0 or nt == kept.size:
            self.fail(js, "no treated or no control units")
            return
        tc = np.array([self.cells[j]["tcur"] for j in js])
        tp = np.array([self.cells[j]["pret"] for j in js])
        r = stats.comparison(g, controls, kept.size, tc, tp)
        if est_method in ("dr", "ipw") and r["p"] >= 0.999:
            self.fail(js, "overlap condition violated (propensity scores reach 0.999)")
            return
        if est_method in ("dr", "ipw") and r["p"] >= TRIM_LEVEL:  # every comparison unit trimmed: R gives NaN
            self.fail(js, "estimate is not finite")
            return
        scale = self.n / kept.size
        self.att[js] = r["att"]
        D = self.g_unit[kept] == g
        wk = a["w_unit"][kept]
        fa = np.where(D, r["ct"], r["cc"]) * wk
        fZ = (-r["ct"] * wk * D)[:, None]
        sides = ((g, r["ct"], r["dmt"]), *((h, r["cc"], r["dmc"]) for h in controls))
        self.influence.add(PanelBatch(js, kept, fa, fZ, r["dmc"][None, :], r["att"][None, :], tc, tp, scale,
                                      a["Xfirst"], sides))
        self.sinks.add_summaries(js, r["sumsq"] * scale**2, None if "S" not in r else r["S"] * scale,
                                 None if "boot" not in r else r["boot"] * scale)

    def repeated_cross_sections(self, df, ucode, tname, yname, X_all, w_all, est_method) -> None:
        est = RC_ESTIMATORS[est_method]
        t_all = df[tname].to_numpy()
        y_all = df[yname].to_numpy(float)
        g_all = self.g_unit[ucode]
        w_all = np.ones(len(df)) if w_all is None else w_all
        for j, c in enumerate(self.cells):
            if c["ref"]:
                continue
            g, thr = c["g"], c["thr"]
            try:
                tp, tq = self.tlist[c["tcur"]], self.tlist[c["pret"]]
                Gr = g_all == g
                Cr = (g_all == 0) if thr is None else ((g_all == 0) | ((g_all > thr) & (g_all != g)))
                ridx = np.flatnonzero(((t_all == tp) | (t_all == tq)) & (Gr | Cr))
                D = Gr[ridx].astype(float)
                post = (t_all[ridx] == tp).astype(float)
                if min((D * post).sum(), (D * (1 - post)).sum(), ((1 - D) * post).sum(),
                       ((1 - D) * (1 - post)).sum()) == 0:
                    raise EstimationFailure("no treated or no control units in one of the two periods")
                X = X_all[ridx]
                if est_method in ("dr", "ipw"):
                    ps = logit_fit(X, D, w_all[ridx] / w_all[ridx].mean())
                    if ps.max() >= 0.999:
                        raise EstimationFailure("overlap condition violated (propensity scores reach 0.999)")
                a, inf_rows = est(y_all[ridx], post, D, X, w_all[ridx])
                if not np.isfinite(a):
                    raise EstimationFailure("estimate is not finite")
            except EstimationFailure as exc:
                self.fail([j], str(exc))
                continue
            codes = ucode[ridx]
            rows = np.unique(codes)
            self.att[j] = a
            vals = np.bincount(codes, weights=inf_rows * (self.n / ridx.size), minlength=self.n)[rows][:, None]
            cols = np.array([j])
            self.influence.add(ExplicitBatch(cols, rows, vals))
            self.sinks.add(cols, rows, vals)

    def warn_failures(self) -> None:
        for (g, why), times in self.failures.items():
            ng = int((self.g_unit == g).sum())
            _warn(f"ATT(g,t) set to NA for group {g:g} ({ng} units) in {len(times)} period(s) "
                  f"{times[0]:g}..{times[-1]:g}: {why}" + ("; the cohort is very small" if ng < 3 else ""),
                  cells=[(float(g), float(t)) for t in times], reason=why)


def _factor_rows(Y: np.ndarray, kept: np.ndarray, q: int, p: int, work: dict) -> np.ndarray:
    """Work array ``U`` (kept units x periods + factors) whose first columns hold the units' outcomes less
    their own mean (unit levels cancel in every change): the batch's estimator reads the changes from them,
    then :func:`_fill_factors` turns the array into the influence functions' factors. The memory is one
    buffer reused by every batch (``work``), so its pages are touched once."""
    T = Y.shape[1]
    size = kept.size * (T + q + p)
    if work.get("buf") is None or work["buf"].size < size:
        work["buf"] = np.empty(size)
    U = work["buf"][:size].reshape(kept.size, T + q + p)
    for lo, hi in runs(kept):
        U[lo:hi, :T] = Y[kept[lo]:kept[hi - 1] + 1]
    Yk = U[:, :T]
    Yk -= Yk.mean(axis=1, keepdims=True)
    return U


def _fill_factors(U, sa, sZ, X, tc, tp, C, B) -> np.ndarray:
    """Fill ``U = [sa * Yd, sZ, -sa * X]`` in place and return ``E = [e_tc - e_tp; C; B]`` (one column per
    cell), so that ``U @ E`` is the batch's scaled influence functions ``sa * DY + [sZ, -sa X] @ [C; B]``."""
    T = U.shape[1] - sZ.shape[1] - (0 if B is None else X.shape[1])
    U[:, :T] *= sa[:, None]
    U[:, T:T + sZ.shape[1]] = sZ
    r = T + sZ.shape[1]
    E = np.zeros((U.shape[1], tc.size))
    j = np.arange(tc.size)
    E[tc, j] = 1.0
    E[tp, j] = -1.0
    E[T:r] = C
    if B is not None:
        U[:, r:] = X
        U[:, r:] *= -sa[:, None]
        E[r:] = B
    return E


def _inference(sinks: Sinks, n, T, bstrap, biters, cband, alp, rng):
    """Pointwise SEs (analytic, clustered analytic, or multiplier bootstrap) and the band's critical value."""
    if sinks.S is not None and not bstrap:
        var = (sinks.S**2).sum(axis=0) / n
    else:
        var = sinks.sumsq / n
    se = np.sqrt(var / n)
    se[~(se > _TINY)] = np.nan
    na_cells = np.isnan(se)
    crit = stats.norm.ppf(1 - alp / 2)
    if bstrap:
        if sinks.S is not None:
            G = sinks.G
            bout = summarise_draws(np.sqrt(G) * MammenWeights(rng, biters, G).sums(sinks.S) / G, G, n, alp)
        else:
            bout = summarise_draws(np.sqrt(n) * sinks.boot / n, n, n, alp)
        se = np.where(na_cells, np.nan, bout.se)
        se[~(se > _TINY)] = np.nan
        if cband and T > 2:
            crit = bout.crit_val
            if crit >= 7:
                _warn("Simultaneous critical value is arguably too large to be reliable "
                      "(few observations per group or little variation in outcomes).")
    return se, crit, na_cells
