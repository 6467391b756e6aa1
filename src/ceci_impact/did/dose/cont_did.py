"""Dose-response difference-in-differences: ATT(d) and ACRT(d) with staggered adoption (R ``contdid`` semantics).

Callaway, B., Goodman-Bacon, A. & Sant'Anna, P. H. C. (2024). "Difference-in-differences with a continuous
treatment", arXiv:2107.02637. For timing group ``g`` and period ``t`` (base period ``g - 1``; the previous period
before treatment), ``ATT(g, t, d) = E[dY | G = g, D = d] - E[dY | comparison]``: the regression of the outcome's
change on the dose among the group's units, minus the comparison units' mean change (never-treated, or also
not-yet-treated). It is estimated, as R ``contdid`` does with ``dose_est_method="parametric"``, by least squares
on a B-spline basis of the dose (``degree``; ``num_knots`` interior knots at quantiles of the treated doses), so
``ATT(g, t, d) = b(d)'beta_gt - mean(dY_comparison)`` and ``ACRT(g, t, d) = b'(d)'beta_gt``. Under strong parallel
trends ACRT(d) is the causal response to a marginal change of the dose; under (standard) parallel trends it also
contains a selection-bias term (the paper, Section 3).

Aggregations (as ``contdid`` via ``ptetools``): ``"dose"`` averages the post-treatment cells with weight ``p_g /
(number of post periods of g)`` (``p_g`` the group's share of treated units) into ATT(d), ACRT(d), ATT^o (the
cells' binary DiD) and ACRT^o (the average of ACRT(g, t, D) over the group's doses); ``"eventstudy"`` averages the
cells with ``t - g = e`` with weights ``p_g`` into ATT^es(e) (the binary DiD, level) or ACRT^es(e) (slope), the
overall effect being the group-weighted average of post cells (ptetools' "group" aggregation).

Inference: analytic influence functions (the sieve regression's sandwich term with the dose grid fixed, the
comparison mean's term and the estimated group weights' term), summed within ``clustervars`` clusters; uniform
bands over the dose grid (or event times) from a seeded multiplier bootstrap (Mammen weights, sup-t critical
value) of the same influence functions, as ``contdid``'s ``cband=TRUE``.

Deviations from ``contdid`` (0.1, commit 443c1c1), stated: (i) the B-spline basis of the dose grid uses the same
boundary knots as the regression (``contdid`` evaluates ``bSpline(dvals)`` with the grid's own range, a different
basis from the one fitted, so its plotted ATT(d)/ACRT(d) curves differ from the fitted curve; the overall ATT^o
and ACRT^o are unaffected); (ii) the level event study uses the binary ATT(g, t) of the paper (``contdid`` passes
the dose itself as the treatment indicator of ``DRDID::drdid_panel``, which weights treated units by their dose);
(iii) analytic standard errors are reported (``contdid`` reports bootstrap ones) and the weights' estimation
enters the aggregated influence functions (as R ``did``'s ``aggte``); (iv) ``dose_est_method="cck"`` (the
data-driven sieve of Chen, Christensen & Kankanala 2025, which ``contdid`` supports for two periods only via
``npiv``) is not implemented: it raises an error naming the allowed value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.interpolate import BSpline

from ..._options import CeciError, check_option
from ..core.notes import DidWarning
from ..core.results import EventStudyMoments, ResultProtocol

TargetParameter = Literal["level", "slope"]
Aggregation = Literal["dose", "eventstudy"]
TreatmentType = Literal["continuous"]
DoseEstMethod = Literal["parametric"]
ControlGroup = Literal["notyettreated", "nevertreated"]


class SplineBasis:
    """B-spline basis of the dose without its first function (R ``splines2::bSpline(..., intercept=FALSE)``),
    and its derivative, on fixed boundary and interior knots.

    Parameters
    ----------
    lo : float
        Lower boundary knot (smallest dose).
    hi : float
        Upper boundary knot (largest dose).
    interior : numpy.ndarray
        Interior knots.
    degree : int
        Degree of the B-splines.
    """

    def __init__(self, lo: float, hi: float, interior: np.ndarray, degree: int):
        self.degree = degree
        self.t = np.r_[[lo] * (degree + 1), np.sort(interior), [hi] * (degree + 1)]
        self.k = self.t.size - degree - 1
        self.lo, self.hi = lo, hi

    def _eval(self, x: np.ndarray, nu: int) -> np.ndarray:
        x = np.clip(np.asarray(x, float), self.lo, self.hi)
        out = np.empty((x.size, self.k))
        for j in range(self.k):
            c = np.zeros(self.k)
            c[j] = 1.0
            out[:, j] = BSpline(self.t, c, self.degree, extrapolate=True)(x, nu=nu)
        return out[:, 1:]

    def design(self, x: np.ndarray) -> np.ndarray:
        """``[1, B(x)]`` (rows x (1 + basis)).

        Parameters
        ----------
        x : numpy.ndarray
            Doses (clipped to the boundary knots).
        """
        return np.column_stack([np.ones(np.size(x)), self._eval(x, 0)])

    def deriv(self, x: np.ndarray) -> np.ndarray:
        """``[0, B'(x)]``.

        Parameters
        ----------
        x : numpy.ndarray
            Doses (clipped to the boundary knots).
        """
        return np.column_stack([np.zeros(np.size(x)), self._eval(x, 1)])


@dataclass(frozen=True)
class _Cell:
    g: float
    t: float
    post: bool
    att: float  # binary DiD = ATT(g, t) averaged over the group's doses
    acrt: float
    att_d: np.ndarray
    acrt_d: np.ndarray
    psi_att: np.ndarray  # n-scaled influence functions (units)
    psi_acrt: np.ndarray
    psi_att_d: np.ndarray  # units x grid (sparse in practice: treated and comparison units of the cell)
    psi_acrt_d: np.ndarray


def _cell(Y, G, D, g, t, base, comp, basis: SplineBasis, dvals):
    n = Y.shape[0]
    tr = np.flatnonzero(G == g)
    co = np.flatnonzero(comp)
    dy = Y[:, t] - Y[:, base]
    X = basis.design(D[tr])
    n1, n0 = tr.size, co.size
    XtX = X.T @ X / n1
    bread = np.linalg.pinv(XtX)
    beta = bread @ (X.T @ dy[tr]) / n1
    resid = dy[tr] - X @ beta
    m0 = dy[co].mean()
    Xd = basis.deriv(D[tr])
    acrt_i = Xd @ beta
    acrt = float(acrt_i.mean())
    Gd, Gdd = basis.design(dvals), basis.deriv(dvals)
    infl_beta = (X * resid[:, None]) @ bread  # n1 x p
    psi_att = np.zeros(n)
    psi_att[tr] = (n / n1) * (dy[tr] - dy[tr].mean())
    psi_att[co] -= (n / n0) * (dy[co] - m0)
    psi_acrt = np.zeros(n)
    psi_acrt[tr] = (n / n1) * ((acrt_i - acrt) + infl_beta @ Xd.mean(axis=0))
    psi_att_d = np.zeros((n, dvals.size))
    psi_att_d[tr] = (n / n1) * (infl_beta @ Gd.T)
    psi_att_d[co] -= ((n / n0) * (dy[co] - m0))[:, None]
    psi_acrt_d = np.zeros((n, dvals.size))
    psi_acrt_d[tr] = (n / n1) * (infl_beta @ Gdd.T)
    return dict(att=float(dy[tr].mean() - m0), acrt=acrt, att_d=Gd @ beta - m0, acrt_d=Gdd @ beta,
                psi_att=psi_att, psi_acrt=psi_acrt, psi_att_d=psi_att_d, psi_acrt_d=psi_acrt_d)


def _aggregate(cells: list[_Cell], shares: list[float], G: np.ndarray, keys: tuple[str, ...]):
    """Weighted average of cells, each weighted ``p_g * share``, ``p_g`` renormalised over the groups present, with
    the influence function of the estimated group shares (``n / N_S * 1{G in S} * (theta_g - theta)``)."""
    n = G.size
    gs = sorted({c.g for c in cells})
    N = np.array([(G == g).sum() for g in gs], float)
    p = dict(zip(gs, N / N.sum(), strict=True))
    in_s = np.isin(G, gs)
    out = {}
    for key in keys:
        theta_g = {g: sum(s * getattr(c, key) for c, s in zip(cells, shares, strict=True) if c.g == g) for g in gs}
        theta = sum(p[g] * theta_g[g] for g in gs)
        psi = sum(p[c.g] * s * getattr(c, "psi_" + key) for c, s in zip(cells, shares, strict=True))
        tg = np.zeros((n,) + np.shape(theta))
        for g in gs:
            tg[G == g] = theta_g[g]
        psi = psi + (n / N.sum()) * in_s.reshape((n,) + (1,) * np.ndim(theta)) * (tg - theta)
        out[key] = (theta, psi)
    return out


def _se(psi: np.ndarray, cl: np.ndarray) -> np.ndarray:
    from ..core.bootstrap import cluster_sums

    S = cluster_sums(psi.reshape(psi.shape[0], -1), cl)
    return np.sqrt((S ** 2).sum(axis=0)) / psi.shape[0]


@dataclass(frozen=True, eq=False)
class DoseResult(ResultProtocol):
    """Result of :func:`cont_did`: dose-response curves (``aggregation="dose"``) or an event study
    (``"eventstudy"``), with ATT^o and ACRT^o.

    ``overall_att``/``overall_se`` are the target parameter's overall effect (ATT^o for ``"level"``, ACRT^o for
    ``"slope"``); ``att_o``, ``acrt_o`` (with ``_se``) both. ``dose_table``: ``dose, att, att_se, acrt,
    acrt_se`` and uniform bands; ``event_table``: ``event_time, att, se`` and bands, ``vcov`` its covariance.

    Parameters
    ----------
    aggregation : {'dose', 'eventstudy'}
        Whether the result is a dose-response curve or an event study.
    target_parameter : {'level', 'slope'}
        ATT (level) or ACRT (slope) as the target parameter.
    overall_att : float
        The target parameter's overall effect (ATT^o or ACRT^o).
    overall_se : float
        Its standard error.
    att_o : float
        Overall average effect of the treatment on the treated, ATT^o.
    att_o_se : float
        Its standard error.
    acrt_o : float
        Overall average causal response on the treated, ACRT^o.
    acrt_o_se : float
        Its standard error.
    alp : float
        Significance level of the intervals and bands.
    params : dict
        The arguments of the call that produced the result.
    dose_table : pandas.DataFrame or None
        Dose-response table (``aggregation='dose'``).
    event_table : pandas.DataFrame or None
        Event-study table (``aggregation='eventstudy'``).
    vcov : numpy.ndarray or None
        Covariance of the event-study estimates.
    crit_val : dict
        Critical value of the uniform band of each curve (``att``, ``acrt``) or of the event study.
    """

    aggregation: str
    target_parameter: str
    overall_att: float
    overall_se: float
    att_o: float
    att_o_se: float
    acrt_o: float
    acrt_o_se: float
    alp: float
    params: dict
    dose_table: pd.DataFrame | None = None
    event_table: pd.DataFrame | None = None
    vcov: np.ndarray | None = field(default=None, repr=False)
    crit_val: dict = field(default_factory=dict)

    @property
    def estimator_name(self) -> str:
        return ("Continuous DiD (CGS), " + ("ATT" if self.target_parameter == "level" else "ACRT")
                + (" by dose" if self.aggregation == "dose" else " event study"))

    def tidy(self) -> pd.DataFrame:
        """The dose-response curve of the target parameter (``dose, att, se``, intervals, uniform band) or the
        event study (``event_time, att, se``, intervals, band, ``post``)."""
        if self.aggregation == "dose":
            col = "att" if self.target_parameter == "level" else "acrt"
            t = self.dose_table
            out = pd.DataFrame({"dose": t.dose, "att": t[col], "se": t[col + "_se"]})
            out = self.with_ci(out)
            return out.assign(band_low=t[col + "_band_low"], band_high=t[col + "_band_high"])
        out = self.with_ci(self.event_table[["event_time", "att", "se"]].copy())
        return out.assign(band_low=self.event_table.band_low, band_high=self.event_table.band_high,
                          post=out.event_time >= 0)

    def event_study(self) -> EventStudyMoments:
        if self.aggregation != "eventstudy":
            raise CeciError("event_study() needs cont_did(..., aggregation='eventstudy')")
        t = self.event_table
        return EventStudyMoments(t.event_time.to_numpy(float), t.att.to_numpy(float), self.vcov)

    def notes(self) -> list[str]:
        return [f"ATT^o {self.att_o:.4f} (SE {self.att_o_se:.4f}); ACRT^o {self.acrt_o:.4f} "
                f"(SE {self.acrt_o_se:.4f}).", *super().notes()]

    def _dict_extra(self) -> dict:
        return {"att_o": self.att_o, "att_o_se": self.att_o_se, "acrt_o": self.acrt_o, "acrt_o_se": self.acrt_o_se,
                "aggregation": self.aggregation, "target_parameter": self.target_parameter,
                "crit_val": self.crit_val}

    def plot(self, ax=None, title: str | None = None):
        """Dose-response curve with pointwise intervals and the uniform band, or the event study.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (a new figure when None).
        title : str, optional
            Figure title (default: the estimator's name).
        """
        from ..core.plotting import event_study_plot

        if self.aggregation == "eventstudy":
            return event_study_plot(self.tidy(), ax=ax, title=title or self.estimator_name)
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        d = self.tidy()
        ax.fill_between(d.dose, d.band_low, d.band_high, color="#1f4e79", alpha=0.15, label="uniform band")
        ax.plot(d.dose, d.ci_low, color="#1f4e79", lw=0.8, ls="--")
        ax.plot(d.dose, d.ci_high, color="#1f4e79", lw=0.8, ls="--")
        ax.plot(d.dose, d.att, color="#9b1c1c", lw=2, label="ATT(d)" if self.target_parameter == "level" else "ACRT(d)")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel(self.params.get("dname", "dose"))
        ax.set_title(title or self.estimator_name)
        ax.legend(frameon=False)
        return ax


def _panel(data, yname, tname, idname, gname, dname):
    from ..core.design import check_panel

    check_panel(data, yname=yname, tname=tname, idname=idname, gname=gname)
    if dname not in data.columns:
        raise CeciError(f"column {dname!r} (dname) not found in data; available: {', '.join(map(str, data.columns))}")
    if not pd.api.types.is_numeric_dtype(data[dname]):
        raise CeciError(f"column {dname!r} (dname) must be numeric, found dtype {data[dname].dtype}")
    wide = data.pivot(index=idname, columns=tname, values=yname)
    if wide.isna().to_numpy().any():
        raise CeciError(f"cont_did needs a balanced panel with {yname!r} observed in every period (as R contdid); "
                        f"{int(wide.isna().to_numpy().sum())} unit-period outcomes are missing")
    first = data.sort_values(tname).groupby(idname, sort=True)
    dose = first[dname].agg(["min", "max", "first"]).reindex(wide.index)
    if ((dose["max"] - dose["min"]).abs() > 1e-12).any() or dose["first"].isna().any():
        bad = dose.index[((dose["max"] - dose["min"]).abs() > 1e-12) | dose["first"].isna()][0]
        raise CeciError(f"{dname!r} must be a time-invariant, non-missing dose per unit (as R contdid); it varies or "
                        f"is missing for {idname}={bad}")
    G = first[gname].first().reindex(wide.index).fillna(0).to_numpy(float)
    return wide, G, dose["first"].to_numpy(float)


def cont_did(
    data: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    dname: str,
    target_parameter: TargetParameter = "level",
    aggregation: Aggregation = "dose",
    treatment_type: TreatmentType = "continuous",
    dose_est_method: DoseEstMethod = "parametric",
    degree: int = 3,
    num_knots: int = 0,
    dvals: np.ndarray | list[float] | None = None,
    control_group: ControlGroup = "notyettreated",
    clustervars: str | None = None,
    alp: float = 0.05,
    cband: bool = True,
    biters: int = 999,
    seed: int = 2026,
) -> DoseResult:
    """Dose-response DiD: ATT(d) / ACRT(d) curves or their event studies (Callaway, Goodman-Bacon & Sant'Anna 2024).

    Parameters
    ----------
    data
        Balanced panel, one row per unit and period.
    yname, tname, idname, gname
        Outcome, period, unit and timing group (first treated period; 0 = never treated), R names.
    dname
        Time-invariant dose (e.g. places per 100 eligible parents), set also in pre-treatment periods; units of a
        timing group with dose 0 are dropped and never-treated units' dose is set to 0 (with warnings, as R).
    target_parameter
        ``"level"`` (ATT) or ``"slope"`` (ACRT).
    aggregation
        ``"dose"`` (curves over ``dvals`` and the overall ATT^o, ACRT^o) or ``"eventstudy"``.
    treatment_type
        ``"continuous"`` only (as ``contdid``; discrete doses are not supported).
    dose_est_method
        ``"parametric"`` (B-spline sieve of fixed dimension) only; the data-driven CCK sieve is not implemented.
    degree, num_knots
        B-spline degree and number of interior knots (at quantiles of the treated doses).
    dvals
        Dose grid of the curves; default the 10th, 11th, ..., 99th percentiles of the treated doses (as R).
    control_group
        ``"notyettreated"`` (never and not yet treated units) or ``"nevertreated"``.
    clustervars
        Cluster variable (constant within units); default the unit.
    alp
        Significance level.
    cband
        Uniform bands from the multiplier bootstrap (else the bands are the pointwise intervals).
    biters, seed
        Bootstrap draws and seed of the band's critical value.

    Returns
    -------
    DoseResult
    """
    check_option("target_parameter", target_parameter, TargetParameter)
    check_option("aggregation", aggregation, Aggregation)
    check_option("treatment_type", treatment_type, TreatmentType)
    check_option("dose_est_method", dose_est_method, DoseEstMethod)
    check_option("control_group", control_group, ControlGroup)
    if not isinstance(degree, (int, np.integer)) or degree < 1:
        raise CeciError(f"degree={degree!r}: expected an integer >= 1")
    if not isinstance(num_knots, (int, np.integer)) or num_knots < 0:
        raise CeciError(f"num_knots={num_knots!r}: expected an integer >= 0")
    if not 0 < alp < 1:
        raise CeciError(f"alp={alp!r}: expected a number between 0 and 1")
    wide, G, D = _panel(data, yname, tname, idname, gname, dname)
    drop = (G > 0) & (D == 0)
    if drop.any():
        warnings.warn(f"cont_did: dropped {int(drop.sum())} units with a treatment date but dose 0", DidWarning,
                      stacklevel=2)
    if ((G == 0) & (D != 0)).any():
        warnings.warn(f"cont_did: set the dose of {int(((G == 0) & (D != 0)).sum())} never-treated units to 0",
                      DidWarning, stacklevel=2)
        D = np.where(G == 0, 0.0, D)
    keep = ~drop
    Y, G, D = wide.to_numpy(float)[keep], G[keep], D[keep]
    ids = wide.index[keep]
    tlist = np.asarray(wide.columns, float)
    dpos = D[D > 0]
    if dpos.size == 0:
        raise CeciError(f"cont_did: no treated unit with a positive dose in {dname!r}")
    interior = np.quantile(dpos, np.linspace(0, 1, num_knots + 2))[1:-1]
    basis = SplineBasis(float(dpos.min()), float(dpos.max()), interior, int(degree))
    grid = np.quantile(dpos, np.arange(0.10, 0.995, 0.01)) if dvals is None else np.asarray(dvals, float).ravel()
    if grid.size == 0 or not np.isfinite(grid).all() or grid.min() < dpos.min() or grid.max() > dpos.max():
        raise CeciError(f"dvals: expected finite doses within the treated units' range [{dpos.min():g}, "
                        f"{dpos.max():g}] (the sieve is not extrapolated)")
    cells = _cells(Y, G, D, tlist, basis, grid, control_group)
    if not any(c.post for c in cells):
        raise CeciError("cont_did: no post-treatment (group, period) cell with comparison units and at least "
                        f"{basis.k} treated units of its timing group (the dose curve's {basis.k} B-spline "
                        "coefficients are fitted within each group)")
    if clustervars:
        cmap = data.groupby(idname)[clustervars].first()
        cl = pd.factorize(cmap.reindex(ids))[0]
    else:
        cl = np.arange(ids.size)
    return _result(cells, G, cl, grid, aggregation, target_parameter, alp, cband, biters, seed,
                   dict(yname=yname, tname=tname, idname=idname, gname=gname, dname=dname, degree=int(degree),
                        num_knots=int(num_knots), knots=interior.tolist(), control_group=control_group,
                        clustervars=clustervars or idname, dose_est_method=dose_est_method,
                        target_parameter=target_parameter, aggregation=aggregation))


def _cells(Y, G, D, tlist, basis, grid, control_group) -> list[_Cell]:
    cells = []
    groups = sorted(g for g in np.unique(G) if g > tlist[0] and g in set(tlist))
    for g in groups:
        gi = int(np.flatnonzero(tlist == g)[0])
        for ti in range(1, tlist.size):
            tp = tlist[ti]
            base = gi - 1 if tp >= g else ti - 1
            comp = (G == 0) if control_group == "nevertreated" else ((G == 0) | (G > max(tp, tlist[base])))
            comp &= G != g
            if comp.sum() < 1 or (G == g).sum() < basis.k:
                continue
            r = _cell(Y, G, D, g, ti, base, comp, basis, grid)
            cells.append(_Cell(g=g, t=tp, post=bool(tp >= g), **r))
    return cells


def _band(psi: np.ndarray, se: np.ndarray, cl, alp, cband, biters, seed) -> float:
    z = float(stats.norm.ppf(1 - alp / 2))
    if not cband or psi.shape[1] < 2:
        return z
    from ..core.bootstrap import mboot

    b = mboot(psi, biters=biters, alp=alp, rng=np.random.default_rng(seed), cluster=cl)
    return float(max(b.crit_val, z)) if np.isfinite(b.crit_val) else z


def _result(cells, G, cl, grid, aggregation, target, alp, cband, biters, seed, params) -> DoseResult:
    post = [c for c in cells if c.post]
    npost = {g: sum(1 for c in post if c.g == g) for g in {c.g for c in post}}
    over = _aggregate(post, [1.0 / npost[c.g] for c in post], G, ("att", "acrt", "att_d", "acrt_d"))
    att_o, psi_att_o = over["att"]
    acrt_o, psi_acrt_o = over["acrt"]
    att_o_se, acrt_o_se = float(_se(psi_att_o, cl)[0]), float(_se(psi_acrt_o, cl)[0])
    ov, ov_se = (att_o, att_o_se) if target == "level" else (acrt_o, acrt_o_se)
    common = dict(aggregation=aggregation, target_parameter=target, overall_att=float(ov), overall_se=ov_se,
                  att_o=float(att_o), att_o_se=att_o_se, acrt_o=float(acrt_o), acrt_o_se=acrt_o_se, alp=alp,
                  params=params)
    if aggregation == "dose":
        tab = {"dose": grid}
        crit = {}
        for key in ("att", "acrt"):
            est, psi = over[key + "_d"]
            se = _se(psi, cl)
            c = _band(psi, se, cl, alp, cband, biters, seed)
            tab.update({key: est, key + "_se": se, key + "_band_low": est - c * se, key + "_band_high": est + c * se})
            crit[key] = c
        return DoseResult(**common, dose_table=pd.DataFrame(tab), crit_val=crit)
    key = "att" if target == "level" else "acrt"
    rows, psis = [], []
    for e in sorted({c.t - c.g for c in cells}):
        sel = [c for c in cells if c.t - c.g == e]
        est, psi = _aggregate(sel, [1.0] * len(sel), G, (key,))[key]
        rows.append({"event_time": e, "att": float(est), "n_groups": len(sel)})
        psis.append(psi)
    P = np.column_stack(psis)
    se = _se(P, cl)
    c = _band(P, se, cl, alp, cband, biters, seed)
    from ..core.bootstrap import cluster_sums

    S = cluster_sums(P, cl) / P.shape[0]
    tab = pd.DataFrame(rows).assign(se=se, band_low=lambda d: d.att - c * se, band_high=lambda d: d.att + c * se)
    return DoseResult(**common, event_table=tab, vcov=S.T @ S, crit_val={key: c})
