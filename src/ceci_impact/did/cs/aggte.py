"""Aggregation of group-time effects (R ``did::aggte``): simple, group, dynamic, calendar."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from scipy import stats

from ..._blas import single_threaded
from ..._options import CeciError, check_option
from ..core.bootstrap import cluster_codes
from ..core.results import AggteResult
from ..inference.attach import with_rule
from .combination import Combination

# ``res`` below is an ``AttGtResult`` (ceci_impact.did.cs.attgt_result, which imports this module: no import back)
AttGtResult = Any

AggType = Literal["simple", "group", "dynamic", "calendar"]
_TINY = np.sqrt(np.finfo(float).eps) * 10


def _wif_times(att_k, keep_group, keep_pg, w_ind, G):
    """``wif(keepers) @ att[keepers]`` without forming the n x |keepers| matrix (R ``wif``)."""
    Spg = keep_pg.sum()
    ug, inv = np.unique(keep_group, return_inverse=True)
    s_att = np.bincount(inv, weights=att_k, minlength=ug.size)
    cnt = np.bincount(inv, minlength=ug.size).astype(float)
    pos = np.searchsorted(ug, G)
    pos = np.clip(pos, 0, ug.size - 1)
    match = ug[pos] == G
    s_unit = np.where(match, s_att[pos], 0.0)
    c_unit = np.where(match, cnt[pos], 0.0)
    centered_att = w_ind * s_unit - keep_pg @ att_k
    row_sums = w_ind * c_unit - Spg
    return centered_att / Spg - row_sums * (keep_pg @ att_k) / Spg**2


def _wif_coef(groups: np.ndarray, cohort: np.ndarray, att: np.ndarray, pg: np.ndarray) -> np.ndarray:
    """Per-cohort coefficients of R's ``wif`` term for the weights ``pg / sum(pg)`` of the estimates ``att`` of
    cohorts ``cohort``: unit ``i`` gets ``w_i * coef[cohort of i]`` with ``coef = (sum of the cohort's att) / S -
    (their number) * (pg . att) / S^2``, ``S = sum(pg)`` (the constant terms of ``wif`` cancel exactly)."""
    gi = np.searchsorted(groups, cohort)
    S, A = pg.sum(), pg @ att
    return np.bincount(gi, weights=att, minlength=groups.size) / S - np.bincount(gi, minlength=groups.size) * A / S**2


def _combination(res: AttGtResult, specs: list[tuple[np.ndarray, np.ndarray, bool]], att: np.ndarray,
                 pg: np.ndarray, overall: tuple | None = None, nan_cols: np.ndarray | None = None) -> Combination:
    """The influence functions (n x len(specs), then the overall column) of the weighted averages
    ``att[which] @ wts`` for each ``(which, wts, with_wif)`` in ``specs``, as a :class:`Combination` of the cells'
    factors (nothing is computed over the units here); ``with_wif`` adds the term for the estimated weights
    (R ``wif``). ``overall = (L, coef)``: one more column, the profile's columns times ``L`` plus the
    estimated-weights term ``coef`` (per cohort)."""
    groups = np.unique(res.group)
    m = len(specs)
    W = np.zeros((res.att.size, m))
    coef = np.zeros((groups.size + 1, m))
    for j, (which, wts, with_wif) in enumerate(specs):
        W[which, j] = wts
        if with_wif and which.size:
            coef[:-1, j] = _wif_coef(groups, res.group[which], att[which], pg[which])
    derived = None
    if overall is not None:
        L, extra = overall
        derived = L[:, None]
        W = np.column_stack([W, W @ L])
        coef = np.column_stack([coef, coef @ L + (0.0 if extra is None else extra)])
    return Combination(res.influence, W, coef, groups, res.unit_group, res.unit_weights, nan_cols=nan_cols,
                       derived=derived)


class _Influence:
    """The units x columns matrix of a combination, formed on first use and shared by the result's two fields."""

    def __init__(self, comb: Combination):
        self.comb, self._full = comb, None

    def full(self) -> np.ndarray:
        if self._full is None:
            self._full = self.comb.matrix()
        return self._full

    def profile(self) -> np.ndarray:
        return self.full()[:, :-1]

    def overall(self) -> np.ndarray:
        return self.full()[:, -1]


class _SE:
    def __init__(self, res: AttGtResult, bstrap: bool, biters: int, alp: float, rng):
        self.res, self.bstrap, self.biters, self.alp, self.rng = res, bstrap, biters, alp, rng
        self.df = None  # Welch degrees of freedom of the last analytic SEs (small_cluster="welch")
        self.codes = None if res.cluster is None else cluster_codes(res.cluster)

    def _analytic(self, comb: Combination) -> np.ndarray:
        n = self.res.n
        self.df = None
        if self.codes is not None:
            S = comb.cluster_sums(*self.codes)
            how = self.res.params.get("small_cluster", "none")
            if how in ("welch", "effective", "effective_fitted"):
                se = self._welch(S) / n
                if how != "welch":
                    g_eff = self.res.influence.effective_clusters(
                        comb.W, *self.codes, model="fitted" if how == "effective_fitted" else "common")
                    if g_eff is not None:
                        self.df = np.where(np.isfinite(g_eff), np.maximum(g_eff - 1, 1.0), self.df)
                return se
            return np.sqrt((S**2).sum(axis=0)) / n
        return np.sqrt(comb.sumsq() / n / n)

    def _welch(self, S: np.ndarray) -> np.ndarray:
        """Cluster-robust SEs (times n) with a ``G/(G-1)`` factor on the clusters with and without treated units;
        sets ``self.df``, the Welch–Satterthwaite degrees of freedom of each column."""
        codes, G_all = self.codes
        treated = np.bincount(codes, weights=(self.res.unit_group > 0).astype(float), minlength=G_all) > 0
        parts, dfs = [], []
        for m in (treated, ~treated):
            G = int(m.sum())
            v = (S[m] ** 2).sum(axis=0) * (G / (G - 1) if G > 1 else 1.0)
            parts.append(v)
            dfs.append(max(G - 1, 1))
        V = parts[0] + parts[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            self.df = np.where(V > 0, V**2 / (parts[0] ** 2 / dfs[0] + parts[1] ** 2 / dfs[1]), np.nan)
        return np.sqrt(V)

    def se_and_crit(self, comb: Combination, cband: bool, band_cols: int | None = None) -> tuple[np.ndarray, float, bool]:
        """Standard errors of the columns of the combination ``comb`` and the critical value of the first
        ``band_cols`` columns, from one set of bootstrap draws."""
        z = stats.norm.ppf(1 - self.alp / 2)
        boot = None
        if self.bstrap or cband:
            boot = comb.boot(self.biters, self.alp, self.rng, self.codes, band_cols=band_cols)
        se = boot.se if self.bstrap else self._analytic(comb)
        se = np.where(se > _TINY, se, np.nan)
        if not cband:
            return se, z, False
        c = boot.crit_val
        if not np.isfinite(c):
            warnings.warn("Simultaneous critical value is NA; falling back to pointwise intervals.", stacklevel=4)
            return se, z, False
        if c < z:
            warnings.warn("Simultaneous band narrower than pointwise intervals; using pointwise.", stacklevel=4)
            return se, z, False
        if c >= 7:
            warnings.warn("Simultaneous critical value is very large and may be unreliable.", stacklevel=4)
        return se, float(c), True


def _cohort_shares(res, glist: np.ndarray, group: np.ndarray, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cohort's share of the weight (``pg`` of R ``did``), per cohort and per cell of ``sel`` (units are ordered
    by cohort: slices, not passes over all units).

    Parameters
    ----------
    res : AttGtResult
        The estimates.
    glist : numpy.ndarray
        The cohorts aggregated.
    group : numpy.ndarray
        Cohort of each cell.
    sel : numpy.ndarray
        The cells aggregated.
    """
    ug, uw = res.unit_group, res.unit_weights
    if np.all(ug[:-1] <= ug[1:]):
        lo, hi = np.searchsorted(ug, glist, side="left"), np.searchsorted(ug, glist, side="right")
        pg_by_group = np.array([uw[a:b].sum() for a, b in zip(lo, hi, strict=True)]) / ug.size
    else:
        pg_by_group = np.array([np.mean(uw * (ug == g)) for g in glist])
    pg = np.zeros(res.att.size)
    pg[sel] = pg_by_group[np.searchsorted(glist, group[sel])]
    return pg_by_group, pg


@single_threaded  # small products: one BLAS thread (ceci_impact._blas)
def compute_aggte(
    res: AttGtResult,
    type: AggType = "group",
    *,
    min_e: float = -np.inf,
    max_e: float = np.inf,
    balance_e: int | None = None,
    na_rm: bool = False,
    bstrap: bool | None = None,
    biters: int | None = None,
    cband: bool | None = None,
    alp: float | None = None,
) -> AggteResult:
    """Aggregate ATT(g,t) into an overall effect and a profile; see ``AttGtResult.aggte``.

    Parameters
    ----------
    res : AttGtResult
        The group-time effects.
    type, min_e, max_e, balance_e, na_rm, bstrap, biters, cband, alp
        As in :meth:`ceci_impact.did.AttGtResult.aggte`.
    """
    check_option("type", type, AggType)
    p = res.params
    bstrap = p["bstrap"] if bstrap is None else bstrap
    biters = p["biters"] if biters is None else biters
    cband = p["cband"] if cband is None else cband
    alp = p["alp"] if alp is None else alp
    if balance_e is not None and (int(balance_e) != balance_e or balance_e < 0):
        raise CeciError(f"balance_e={balance_e} must be a non-negative whole number")
    rng = np.random.default_rng(0 if p["seed"] is None else p["seed"])
    se_of = _SE(res, bstrap, biters, alp, rng)

    group, t, att = res.group.copy(), res.t.copy(), res.att.copy()
    sel = np.arange(att.size)
    if na_rm:
        sel = sel[~np.isnan(att)]
        if sel.size == 0:
            raise CeciError("all ATT(g,t) estimates are NA; nothing to aggregate")
    elif np.isnan(att).any():
        raise CeciError("missing values in ATT(g,t) estimates; set na_rm=True to drop them")
    glist = np.unique(group[sel])
    pg_by_group, pg = _cohort_shares(res, glist, group, sel)
    mask = np.zeros(att.size, bool)
    mask[sel] = True

    def finish(overall, comb, egt=None, att_e=None, label=None):
        se_e = crit = df_e = None
        used_band = False
        lazy = _Influence(comb)
        if egt is None:
            ose = se_of.se_and_crit(comb, False)[0][0]
            df_o = None if se_of.df is None or bstrap else float(se_of.df[0])
            inf_overall, inf_egt = (lambda: lazy.full()[:, 0]), None
        else:
            se_all, crit, used_band = se_of.se_and_crit(comb, cband, band_cols=egt.size)
            se_e, ose = se_all[:-1], se_all[-1]
            df_o = None if se_of.df is None or bstrap else float(se_of.df[-1])
            df_e = None if se_of.df is None or bstrap else np.asarray(se_of.df[:-1], float)
            inf_overall, inf_egt = lazy.overall, lazy.profile
        out = AggteResult(df_overall=df_o, df_egt=df_e,
            type=type, overall_att=float(overall), overall_se=float(ose), egt=egt, att_egt=att_e,
            se_egt=se_e, crit_val=crit, cband=used_band, alp=alp, label=label,
            inf_overall=inf_overall, inf_egt=inf_egt, min_e=min_e, max_e=max_e, balance_e=balance_e,
            params=dict(p), parent_tidy=None, cluster=res.cluster,
        )
        return with_rule(out, res, comb.W)  # the small-cluster rule of the inference registry (did/inference)

    if type == "simple":
        keep = np.flatnonzero(mask & (group <= t) & (t <= group + max_e))
        if keep.size == 0:
            raise CeciError("no post-treatment ATT(g,t) to aggregate")
        wts = pg[keep] / pg[keep].sum()
        overall = float(att[keep] @ wts)
        return finish(overall, _combination(res, [(keep, wts, True)], att, pg))

    if type == "group":
        att_g, specs, empty = [], [], []
        for i, g in enumerate(glist):
            wg = np.flatnonzero(mask & (group == g) & (g <= t) & (t <= group + max_e))
            if wg.size == 0:
                att_g.append(np.nan)
                empty.append(i)
                specs.append((wg, np.empty(0), False))
                continue
            att_g.append(att[wg].mean())
            specs.append((wg, pg[wg] / pg[wg].sum(), False))
        att_g = np.asarray(att_g)
        overall = float(np.sum(att_g * pg_by_group) / pg_by_group.sum())
        pw = pg_by_group / pg_by_group.sum()
        nan_cols = np.zeros(glist.size + 1, bool)
        nan_cols[empty] = True
        nan_cols[-1] = bool(empty)  # the overall averages every group's column
        groups = np.unique(res.group)
        extra = np.zeros(groups.size + 1)
        extra[:-1] = _wif_coef(groups, glist, att_g, pg_by_group)
        comb = _combination(res, specs, att, pg, overall=(pw, extra), nan_cols=nan_cols)
        return finish(overall, comb, glist, att_g, "group")

    if type == "dynamic":
        e_all = t - group
        include = mask.copy()
        eseq = np.unique(e_all[mask])
        if balance_e is not None:
            tmax = t[mask].max()
            tmin = min(t[mask].min(), glist.min())
            include = mask & (tmax - group >= balance_e)
            eseq = np.unique(e_all[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - tmax + tmin)]
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if eseq.size == 0:
            raise CeciError(f"no event times within min_e={min_e}, max_e={max_e}, balance_e={balance_e}")
        att_e, specs = [], []
        for e in eseq:
            we = np.flatnonzero((e_all == e) & include)
            wts = pg[we] / pg[we].sum()
            att_e.append(att[we] @ wts)
            specs.append((we, wts, True))
        att_e = np.asarray(att_e)
        epos = eseq >= 0
        nan_cols = np.zeros(eseq.size + 1, bool)
        if not epos.any():
            overall, L = np.nan, np.zeros(eseq.size)
            nan_cols[-1] = True
        else:
            overall = float(att_e[epos].mean())
            L = epos / epos.sum()
        comb = _combination(res, specs, att, pg, overall=(L, None), nan_cols=nan_cols)
        return finish(overall, comb, eseq, att_e, "event_time")

    # calendar
    if np.isfinite(max_e) or np.isfinite(min_e) or balance_e is not None:
        warnings.warn("min_e, max_e and balance_e are ignored for type='calendar'", stacklevel=2)
    minG = group[mask].min()
    tl = np.unique(t[mask])
    tl = tl[tl >= minG]
    tl = np.array([t1 for t1 in tl if np.any(mask & (t == t1) & (group <= t))])
    if tl.size == 0:
        raise CeciError("no calendar periods with post-treatment ATT(g,t)")
    att_t, specs = [], []
    for t1 in tl:
        wt = np.flatnonzero(mask & (t == t1) & (group <= t))
        wts = pg[wt] / pg[wt].sum()
        att_t.append(att[wt] @ wts)
        specs.append((wt, wts, True))
    att_t = np.asarray(att_t)
    comb = _combination(res, specs, att, pg, overall=(np.full(tl.size, 1.0 / tl.size), None))
    return finish(float(att_t.mean()), comb, tl, att_t, "time")


def aggte(res: AttGtResult, type: str = "group", **kwargs) -> AggteResult:
    """R's verb: aggregate an ``att_gt`` result (``"simple"``, ``"group"``, ``"dynamic"``, ``"calendar"``); the
    keyword arguments are those of R ``did::aggte`` (``min_e``, ``max_e``, ``balance_e``, ``na_rm``, ``bstrap``,
    ``biters``, ``cband``, ``alp``). ``res.aggte(...)`` is the same call.

    Parameters
    ----------
    res : AttGtResult
        The group-time effects of :func:`att_gt`.
    type : {'simple', 'group', 'dynamic', 'calendar'}
        The aggregation: overall, by cohort, by event time (event study) or by calendar period.
    **kwargs
        R ``did::aggte``'s options: ``min_e``, ``max_e``, ``balance_e``, ``na_rm``, ``bstrap``, ``biters``, ``cband``,
        ``alp`` (see :meth:`AttGtResult.aggte`).
    """
    return compute_aggte(res, type, **kwargs)
