"""All centres on one chart: site-level effects, empirical-Bayes shrinkage with robust intervals, and
false-discovery-rate control across sites.

Reading 50 separate site pages, each with its own p-value, finds "significant" centres by chance alone. This
module estimates every opened centre's effect on its employers in one pass over the employer panel, then

- shrinks the site estimates towards their precision-weighted mean with the normal-normal empirical-Bayes rule
  (Morris 1983, "Parametric empirical Bayes inference: theory and applications", JASA 78; heterogeneity variance
  by the method of moments of DerSimonian & Laird 1986), and gives each shrunken estimate the *robust*
  empirical-Bayes confidence interval of Armstrong, Kolesár & Plagborg-Møller (2022, "Robust empirical Bayes
  confidence intervals", Econometrica 90), which keeps its average coverage across sites whatever the
  distribution of the true site effects, using only their second moment;
- controls the false discovery rate across sites with the Benjamini–Hochberg (1995) step-up rule (q-values).

A site's estimate compares the employers within the treated ring of that site (its cohort) with the control-ring
employers (never exposed), Callaway–Sant'Anna with never-treated controls, weighted by first-month workforce.
Its standard error is the heteroskedasticity-robust one over employers: a shock common to the employers around one
site is indistinguishable from that site's effect, so the spread of site estimates beyond their standard errors
(the heterogeneity the shrinkage estimates) includes such shocks. Sites with fewer than ``MIN_CELL`` treated
employers are not estimated (confidentiality and precision), and are counted.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .._options import CeciError
from ..confidentiality import MIN_CELL
from ..did import att_gt
from .samples import employer_sample


def _r(b: np.ndarray | float, chi: float) -> np.ndarray | float:
    """Non-coverage of ``[-chi, chi]`` by ``Z + b``, ``Z`` standard normal: ``P(|Z + b| > chi)``."""
    return stats.norm.cdf(-chi - b) + stats.norm.sf(chi - b)


def _rho(m2: float, chi: float) -> float:
    """Largest non-coverage of ``chi`` over distributions of the normalised bias ``b`` with ``E b² = m2``
    (Armstrong, Kolesár & Plagborg-Møller 2022, Proposition B.1): the concave majorant in ``t = b²`` of
    ``r(√t, chi)`` at ``m2`` — the chord from ``t = 0`` to the tangency point ``t0`` below it, ``r`` above. The
    tangency point maximises ``(r(√t) − r(0)) / t``: located on a grid, then refined."""
    r0 = float(_r(0.0, chi))
    ts = np.geomspace(1e-8, max(1e4, 100 * chi ** 2 + 10 * m2), 2000)
    slope = (_r(np.sqrt(ts), chi) - r0) / ts
    i = int(np.argmax(slope))
    lo, hi = ts[max(i - 1, 0)], ts[min(i + 1, ts.size - 1)]
    res = optimize.minimize_scalar(lambda t: -(float(_r(math.sqrt(t), chi)) - r0) / t, bounds=(lo, hi),
                                   method="bounded", options={"xatol": 1e-12 * max(hi, 1.0)})
    t0 = float(res.x) if -res.fun >= slope[i] else float(ts[i])
    if m2 >= t0:
        return float(_r(math.sqrt(m2), chi))
    return r0 + m2 * (float(_r(math.sqrt(t0), chi)) - r0) / t0


def robust_critical_value(m2: float, alpha: float = 0.05) -> float:
    """The robust EBCI critical value ``cva_alpha(m2)``: the ``chi`` with ``rho(m2, chi) = alpha``
    (Armstrong, Kolesár & Plagborg-Møller 2022, eq. 9, second-moment constraint only).

    Parameters
    ----------
    m2 : float
        Second moment of the normalised bias, ``sigma_i² / mu2`` for the empirical-Bayes shrinkage.
    alpha : float
        Non-coverage allowed.
    """
    if m2 <= 0:
        return float(stats.norm.ppf(1 - alpha / 2))
    hi = float(stats.norm.ppf(1 - alpha / 2)) + math.sqrt(m2 / alpha) + 10
    return float(optimize.brentq(lambda c: _rho(m2, c) - alpha, 1e-6, hi, xtol=1e-10))


def _tangency(chi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ``chi``: the tangency point ``t0`` of the chord from ``(0, r(0))`` to ``t -> r(√t, chi)`` and the
    chord's slope, by a coarse then a fine geometric grid (vectorised over ``chi``)."""
    chi = np.asarray(chi, float)[:, None]
    r0 = _r(0.0, chi)
    ts = np.geomspace(1e-8, 1.0, 1500)[None, :] * (100 * chi ** 2 + 1e4)
    slope = (_r(np.sqrt(ts), chi) - r0) / ts
    i = np.argmax(slope, axis=1)
    lo = np.take_along_axis(ts, np.maximum(i - 1, 0)[:, None], axis=1)
    hi = np.take_along_axis(ts, np.minimum(i + 1, ts.shape[1] - 1)[:, None], axis=1)
    fine = lo * (hi / lo) ** np.linspace(0, 1, 400)[None, :]
    fs = (_r(np.sqrt(fine), chi) - r0) / fine
    j = np.argmax(fs, axis=1)
    return fine[np.arange(fine.shape[0]), j], fs[np.arange(fine.shape[0]), j]


@lru_cache(maxsize=8)
def _cva_table(alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``(m2, chi)`` pairs on the curve ``rho(m2, chi) = alpha``, from a grid of ``chi``: the chord regime gives
    ``m2 = (alpha - r(0)) / slope`` when that is below the tangency point, else ``r(√m2, chi) = alpha`` is solved
    for ``m2`` (one-dimensional)."""
    z = float(stats.norm.ppf(1 - alpha / 2))
    chi = z + np.geomspace(1e-9, 5000.0, 3000)
    t0, s0 = _tangency(chi)
    r0 = _r(0.0, chi)
    m2 = (alpha - r0) / s0
    beyond = m2 > t0
    for k in np.flatnonzero(beyond):
        c = float(chi[k])
        b = optimize.brentq(lambda b, c=c: float(_r(b, c)) - alpha, 0.0, c + 10.0, xtol=1e-13)
        m2[k] = b * b
    keep = np.concatenate([[True], np.diff(m2) > 0])
    return m2[keep], chi[keep]


def robust_critical_values(m2, alpha: float = 0.05) -> np.ndarray:
    """:func:`robust_critical_value` for many ``m2`` at once, interpolated on the curve ``rho(m2, chi) = alpha``
    traced over a fine grid of ``chi`` (:func:`_cva_table`; exact where ``m2`` is outside its range).

    Parameters
    ----------
    m2 : array-like
        Second moments of the normalised bias.
    alpha : float
        Non-coverage allowed.
    """
    m2 = np.atleast_1d(np.asarray(m2, float))
    tm, tc = _cva_table(float(alpha))
    out = np.interp(np.log(np.clip(m2, tm[0], tm[-1])), np.log(tm), tc)
    outside = (m2 < tm[0]) | (m2 > tm[-1])
    out[outside] = [robust_critical_value(float(v), alpha) for v in m2[outside]]
    return out


@dataclass(frozen=True)
class Shrinkage:
    """Empirical-Bayes estimates of many noisy effects.

    Parameters
    ----------
    mean : float
        Precision-weighted mean of the estimates (the point they shrink to).
    tau2 : float
        Heterogeneity variance of the true effects (DerSimonian–Laird, truncated at zero).
    mu2 : float
        Second moment of the true effects around the mean used by the robust intervals (``tau2`` with the
        floor of Armstrong, Kolesár & Plagborg-Møller).
    table : pandas.DataFrame
        One row per effect: ``estimate``, ``se``, ``shrunk``, ``weight`` (share kept of the own estimate),
        ``eb_low``, ``eb_high`` (robust EBCI).
    """

    mean: float
    tau2: float
    mu2: float
    table: pd.DataFrame


def eb_shrink(estimate, se, alpha: float = 0.05) -> Shrinkage:
    """Normal-normal empirical-Bayes shrinkage with robust EB confidence intervals (module docstring).

    Parameters
    ----------
    estimate, se : array-like
        The estimates and their standard errors (same length, at least 3).
    alpha : float
        One minus the intervals' average coverage.
    """
    y = np.asarray(estimate, float)
    s2 = np.asarray(se, float) ** 2
    if y.shape != s2.shape or y.size < 3 or not (np.isfinite(y).all() and np.isfinite(s2).all() and (s2 > 0).all()):
        raise CeciError(f"empirical-Bayes shrinkage needs at least 3 finite estimates with positive standard "
                        f"errors; found {y.size}")
    w = 1 / s2
    fixed = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - fixed) ** 2)
    tau2 = max(0.0, (q - (y.size - 1)) / (np.sum(w) - np.sum(w ** 2) / np.sum(w)))  # DerSimonian & Laird (1986)
    wr = 1 / (s2 + tau2)
    mean = float(np.sum(wr * y) / np.sum(wr))
    # AKP (2022, sec. 4.2): mu2 by moments, floored so that it stays positive (their truncation)
    floor = 2 * np.sum(s2 ** 2) / (np.sum(s2) * y.size)
    mu2 = float(max(np.mean((y - mean) ** 2 - s2), floor))
    keep = mu2 / (mu2 + s2)
    shrunk = mean + keep * (y - mean)
    crit = robust_critical_values(s2 / mu2, alpha)
    half = crit * keep * np.sqrt(s2)
    table = pd.DataFrame({"estimate": y, "se": np.sqrt(s2), "shrunk": shrunk, "weight": keep,
                          "eb_low": shrunk - half, "eb_high": shrunk + half})
    return Shrinkage(mean, float(tau2), mu2, table)


def bh_qvalues(p) -> np.ndarray:
    """Benjamini–Hochberg (1995) q-values: the smallest false discovery rate at which each hypothesis is
    rejected by the step-up rule.

    Parameters
    ----------
    p : array-like
        p-values.
    """
    p = np.asarray(p, float)
    n = p.size
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def site_estimates(processed: str | Path, outcome: str = "eg_days_per_worker", *, alpha: float = 0.05,
                   min_employers: int = MIN_CELL) -> pd.DataFrame:
    """Every opened centre's effect on the employers in its treated ring (module docstring), from one read of the
    employer panel.

    Parameters
    ----------
    processed : str or Path
        Folder of built panels.
    outcome : str
        An employer outcome.
    alpha : float
        Level of the pointwise intervals and p-values.
    min_employers : int
        Fewest treated employers for a site to be estimated.

    Returns
    -------
    pandas.DataFrame
        One row per opened site with ``site_id``, ``name``, ``scheme``, ``pole``, ``n_treated``, ``estimate``,
        ``se``, ``p`` (NaN where not estimated); ``attrs["not_estimated"]`` counts sites left out.
    """
    df = employer_sample(processed, outcome)
    sites = pd.read_parquet(Path(processed) / "sites.parquet")
    controls = df[(df["first_treat"] == 0) & (df["ring"] == "control")]
    treated = df[df["first_treat"] > 0]
    n_by_site = treated.groupby("cohort_site")["employer_id"].nunique()
    rows = []
    for site_id, n in n_by_site.items():
        if n < min_employers:
            rows.append({"site_id": site_id, "n_treated": int(n)})
            continue
        d = pd.concat([treated[treated["cohort_site"] == site_id], controls], ignore_index=True)
        d = d.dropna(subset=[outcome])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = att_gt(d, yname=outcome, tname="period", idname="unit", gname="first_treat",
                       control_group="nevertreated", est_method="reg", weightsname="size0", bstrap=False,
                       alp=alpha, allow_unbalanced_panel=True)
            a = r.aggte("simple", na_rm=True)
        est, se = float(a.overall_att), float(a.overall_se)
        ok = math.isfinite(est) and math.isfinite(se) and se > 0
        rows.append({"site_id": site_id, "n_treated": int(n), "estimate": est if ok else np.nan,
                     "se": se if ok else np.nan, "p": 2 * stats.norm.sf(abs(est / se)) if ok else np.nan,
                     "warnings": len(caught)})
    out = pd.DataFrame(rows, columns=["site_id", "n_treated", "estimate", "se", "p", "warnings"])
    out = out.merge(sites[["site_id", "name", "scheme", "pole"]], on="site_id", how="left")
    out.attrs["not_estimated"] = int(out["estimate"].isna().sum())
    out.attrs["outcome"] = outcome
    return out


def rank_sites(est: pd.DataFrame, alpha: float = 0.05, fdr: float = 0.10) -> pd.DataFrame:
    """Shrunken estimates, robust EB intervals and BH q-values of the estimated sites, ranked by shrunken effect.

    Parameters
    ----------
    est : pandas.DataFrame
        :func:`site_estimates`.
    alpha : float
        One minus the EB intervals' average coverage.
    fdr : float
        False discovery rate at which a site is flagged (``discovery``).
    """
    e = est.dropna(subset=["estimate", "se"]).reset_index(drop=True)
    if len(e) < 3:
        raise CeciError(f"ranking sites needs at least 3 estimated sites; found {len(e)}")
    sh = eb_shrink(e["estimate"], e["se"], alpha)
    out = pd.concat([e, sh.table[["shrunk", "weight", "eb_low", "eb_high"]]], axis=1)
    out["q"] = bh_qvalues(out["p"])
    out["discovery"] = out["q"] <= fdr
    out = out.sort_values("shrunk").reset_index(drop=True)
    out.attrs.update(est.attrs)
    out.attrs.update({"mean": sh.mean, "tau2": sh.tau2, "fdr": fdr, "alpha": alpha})
    return out


def ranking_figure(ranked: pd.DataFrame, ax=None, label: str = "effect"):
    """All estimated centres on one chart: shrunken effect with its robust EB interval (ranked), the site's own
    estimate as a hollow marker, the common mean as a line. Centres are public facilities; each point is an
    estimate over at least ``MIN_CELL`` employers.

    Parameters
    ----------
    ranked : pandas.DataFrame
        :func:`rank_sites`.
    ax : matplotlib Axes, optional
        Where to draw.
    label : str
        The axis label (the outcome).
    """
    import matplotlib.pyplot as plt

    n = len(ranked)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, max(3.0, 0.22 * n + 1.2)))
    y = np.arange(n)
    colours = np.where(ranked["discovery"], "#b7410e", "#1f4e79")
    ax.hlines(y, ranked["eb_low"], ranked["eb_high"], color=colours, lw=1.5)
    ax.scatter(ranked["shrunk"], y, color=colours, s=18, zorder=3, label="shrunken estimate")
    ax.scatter(ranked["estimate"], y, facecolors="none", edgecolors="#888888", s=14, zorder=2,
               label="site's own estimate")
    ax.axvline(0, color="#444444", lw=0.8)
    ax.axvline(ranked.attrs.get("mean", 0.0), color="#1f4e79", lw=0.8, ls="--", label="mean of all centres")
    ax.set_yticks(y)
    ax.set_yticklabels(ranked["site_id"].astype(str), fontsize=8)
    ax.set_xlabel(label)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


def ranking_table(ranked: pd.DataFrame) -> pd.DataFrame:
    """The ranked centres as a publication table (row label: the centre).

    Parameters
    ----------
    ranked : pandas.DataFrame
        :func:`rank_sites`.
    """
    from ..i18n import tr

    return pd.DataFrame({
        "centre": ranked["site_id"].astype(str), "scheme": [tr(s) for s in ranked["scheme"].fillna("")],
        "exposed employers": ranked["n_treated"].astype(int), "own estimate": ranked["estimate"],
        "shrunken estimate": ranked["shrunk"], "lower bound": ranked["eb_low"], "upper bound": ranked["eb_high"],
        "q-value (FDR)": ranked["q"], "discovery": ranked["discovery"].astype(bool)})
