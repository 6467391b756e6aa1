"""Aggregation of group-time effects (R ``did::aggte``): simple, group, dynamic, calendar."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from scipy import stats

from .._options import CeciError, check_option
from .bootstrap import cluster_codes, cluster_sums, mboot
from .inference.attach import with_rule
from .results import AggteResult

# ``res`` below is an ``AttGtResult`` (ceci_impact.did.attgt_result, which imports this module: no import back)
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


def _combine(res: AttGtResult, specs: list[tuple[np.ndarray, np.ndarray, bool]], att: np.ndarray,
             pg: np.ndarray) -> np.ndarray:
    """Influence functions (n x len(specs)) of the weighted averages ``att[which] @ wts`` for each
    ``(which, wts, with_wif)`` in ``specs``, in one pass over the cells' influence functions; ``with_wif`` adds
    the term for the estimated weights (R ``wif``)."""
    W = np.zeros((att.size, len(specs)))
    for m, (which, wts, _) in enumerate(specs):
        W[which, m] = wts
    inf = res.influence.combine(W)
    # the estimated-weights term of every column at once: unit i gets w_i * coef[m, cohort of i], with
    # coef = (sum of the kept att of the cohort) / S - (their number) * (pg . att) / S^2, S = sum of kept pg
    # (R's wif, whose constant terms cancel exactly)
    groups = np.unique(res.group)
    coef = np.zeros((groups.size + 1, len(specs)))
    for m, (which, _, with_wif) in enumerate(specs):
        if with_wif and which.size:
            gi = np.searchsorted(groups, res.group[which])
            S, A = pg[which].sum(), pg[which] @ att[which]
            coef[:-1, m] = (np.bincount(gi, weights=att[which], minlength=groups.size) / S
                            - np.bincount(gi, minlength=groups.size) * A / S**2)
    pos = np.minimum(np.searchsorted(groups, res.unit_group), groups.size - 1)
    gidx = np.where(groups[pos] == res.unit_group, pos, groups.size)  # units of no cohort: the zero row
    for a in range(0, inf.shape[0], 65536):
        b = min(inf.shape[0], a + 65536)
        inf[a:b] += res.unit_weights[a:b, None] * coef[gidx[a:b]]
    return inf, W


class _SE:
    def __init__(self, res: AttGtResult, bstrap: bool, biters: int, alp: float, rng):
        self.res, self.bstrap, self.biters, self.alp, self.rng = res, bstrap, biters, alp, rng
        self.df = None  # Welch degrees of freedom of the last analytic SEs (small_cluster="welch")

    def _analytic(self, infs: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
        n = self.res.n
        self.df = None
        if self.res.cluster is not None:
            S = cluster_sums(infs, self.res.cluster)
            how = self.res.params.get("small_cluster", "none")
            if how in ("welch", "effective", "effective_fitted"):
                se = self._welch(S) / n
                if how != "welch" and W is not None:
                    g_eff = self.res.influence.effective_clusters(
                        W, *cluster_codes(self.res.cluster), model="fitted" if how == "effective_fitted" else "common")
                    if g_eff is not None:
                        self.df = np.where(np.isfinite(g_eff), np.maximum(g_eff - 1, 1.0), self.df)
                return se
            return np.sqrt((S**2).sum(axis=0)) / n
        return np.sqrt(np.einsum("ij,ij->j", infs, infs) / infs.shape[0] / n)

    def _welch(self, S: np.ndarray) -> np.ndarray:
        """Cluster-robust SEs (times n) with a ``G/(G-1)`` factor on the clusters with and without treated units;
        sets ``self.df``, the Welch–Satterthwaite degrees of freedom of each column."""
        codes, G_all = cluster_codes(self.res.cluster)
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

    def se_and_crit(self, infs: np.ndarray, cband: bool, band_cols: int | None = None,
                    W: np.ndarray | None = None) -> tuple[np.ndarray, float, bool]:
        """Standard errors of the columns of ``infs`` (n x m) and the critical value of the first
        ``band_cols`` columns, from one set of bootstrap draws; ``W`` (cells x m) the weights that formed
        ``infs`` from the cells (for the effective number of clusters)."""
        z = stats.norm.ppf(1 - self.alp / 2)
        boot = None
        if self.bstrap or cband:
            boot = mboot(infs, biters=self.biters, alp=self.alp, rng=self.rng, cluster=self.res.cluster,
                         band_cols=band_cols)
        se = boot.se if self.bstrap else self._analytic(infs, W)
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
    pg_by_group = np.array([np.mean(res.unit_weights * (res.unit_group == g)) for g in glist])
    pg = np.zeros(att.size)
    pg[sel] = pg_by_group[np.searchsorted(glist, group[sel])]
    mask = np.zeros(att.size, bool)
    mask[sel] = True

    def finish(overall, overall_inf, egt=None, att_e=None, infs=None, label=None, W=None):
        se_e = crit = df_e = None
        used_band = False
        if infs is None:
            ose = se_of.se_and_crit(overall_inf[:, None], False, W=W)[0][0]
            df_o = None if se_of.df is None or bstrap else float(se_of.df[0])
        else:
            se_all, crit, used_band = se_of.se_and_crit(np.column_stack([infs, overall_inf]), cband,
                                                        band_cols=infs.shape[1], W=W)
            se_e, ose = se_all[:-1], se_all[-1]
            df_o = None if se_of.df is None or bstrap else float(se_of.df[-1])
            df_e = None if se_of.df is None or bstrap else np.asarray(se_of.df[:-1], float)
        out = AggteResult(df_overall=df_o, df_egt=df_e,
            type=type, overall_att=float(overall), overall_se=float(ose), egt=egt, att_egt=att_e,
            se_egt=se_e, crit_val=crit, cband=used_band, alp=alp, label=label,
            inf_overall=overall_inf, inf_egt=infs, min_e=min_e, max_e=max_e, balance_e=balance_e,
            params=dict(p), parent_tidy=None, cluster=res.cluster,
        )
        return with_rule(out, res, W)  # the small-cluster rule of the inference registry (did/inference)

    if type == "simple":
        keep = np.flatnonzero(mask & (group <= t) & (t <= group + max_e))
        if keep.size == 0:
            raise CeciError("no post-treatment ATT(g,t) to aggregate")
        wts = pg[keep] / pg[keep].sum()
        overall = float(att[keep] @ wts)
        inf, W = _combine(res, [(keep, wts, True)], att, pg)
        return finish(overall, inf[:, 0], W=W)

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
        infs, W = _combine(res, specs, att, pg)
        infs[:, empty] = np.nan
        overall = float(np.sum(att_g * pg_by_group) / pg_by_group.sum())
        inf = infs @ (pg_by_group / pg_by_group.sum()) + _wif_times(
            att_g, glist, pg_by_group, res.unit_weights, res.unit_group
        )
        pw = pg_by_group / pg_by_group.sum()
        return finish(overall, inf, glist, att_g, infs, "group", W=np.column_stack([W, W @ pw]))

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
        infs, W = _combine(res, specs, att, pg)
        epos = eseq >= 0
        if not epos.any():
            overall, inf, Wo = np.nan, np.full(res.n, np.nan), np.zeros(W.shape[0])
        else:
            overall = float(att_e[epos].mean())
            inf = infs[:, epos].mean(axis=1)
            Wo = W[:, epos].mean(axis=1)
        return finish(overall, inf, eseq, att_e, infs, "event_time", W=np.column_stack([W, Wo]))

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
    infs, W = _combine(res, specs, att, pg)
    return finish(float(att_t.mean()), infs.mean(axis=1), tl, att_t, infs, "time",
                  W=np.column_stack([W, W.mean(axis=1)]))


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
