"""Minimum detectable effects for panel difference-in-differences with serially correlated errors.

Burlig, Preonas & Woerman (2020, "Panel data and experimental design", J. Dev. Econ. 144, 102458, eq. 2): with
``J`` units, a share ``P`` treated, ``m`` pre- and ``r`` post-periods, idiosyncratic variance ``sigma2`` (after unit
and period effects) and average within-unit covariances ``psi_B`` (between two pre-periods), ``psi_A`` (two
post-periods) and ``psi_X`` (a pre- and a post-period),

    MDE = (t_{1-kappa} + t_{alpha/2}) * sqrt( [ (m + r)/(m r) sigma2 + (m - 1)/m psi_B + (r - 1)/r psi_A
                                               - 2 psi_X ] / (P (1 - P) J) ),

the Student-t quantiles taken with ``df`` degrees of freedom. With no serial correlation and ``m = r = 1`` this is
McKenzie's (2012) two-period case ``(t + t) sqrt(2 sigma2 / (P (1 - P) J))``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._options import CeciError


def _positive(name: str, x, whole: bool = False) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise CeciError(f"{name}={x!r}; expected a number") from None
    if not np.isfinite(v) or v <= 0 or (whole and v != int(v)):
        raise CeciError(f"{name}={x!r}; expected a positive {'whole ' if whole else ''}number")
    return v


def mde_variance(n_units: float, treated_share: float, pre: int, post: int, sigma2: float, psi_pre: float = 0.0,
                 psi_post: float = 0.0, psi_cross: float = 0.0) -> float:
    """Variance of the DiD estimator of BPW eq. 2 (the square of the MDE divided by the critical-value sum).

    Parameters
    ----------
    n_units : float
        Units in the experiment.
    treated_share : float
        Share of them treated.
    pre : int
        Pre-periods.
    post : int
        Post-periods.
    sigma2 : float
        Residual variance of the outcome.
    psi_pre : float
        Average residual covariance between two pre-periods.
    psi_post : float
        Average residual covariance between two post-periods.
    psi_cross : float
        Average residual covariance between a pre- and a post-period.
    """
    J = _positive("n_units", n_units)
    P = float(treated_share)
    if not 0 < P < 1:
        raise CeciError(f"treated_share={treated_share!r}; expected a share strictly between 0 and 1")
    m, r = _positive("pre", pre, whole=True), _positive("post", post, whole=True)
    s2 = _positive("sigma2", sigma2)
    for name, v in (("psi_pre", psi_pre), ("psi_post", psi_post), ("psi_cross", psi_cross)):
        if not np.isfinite(float(v)):
            raise CeciError(f"{name}={v!r}; expected a finite number")
    inner = (m + r) / (m * r) * s2 + (m - 1) / m * psi_pre + (r - 1) / r * psi_post - 2 * psi_cross
    if inner <= 0:
        raise CeciError(f"the variance components give a non-positive variance ({inner:.4g}); expected "
                        "sigma2 and the covariances psi of one residual process")
    return inner / (P * (1 - P) * J)


def mde_panel(n_units: float, treated_share: float, pre: int, post: int, sigma2: float, psi_pre: float = 0.0,
              psi_post: float = 0.0, psi_cross: float = 0.0, alpha: float = 0.05, power: float = 0.8,
              df: float | None = None) -> float:
    """Minimum detectable effect of a panel DiD with serially correlated errors (BPW 2020, eq. 2).

    Parameters
    ----------
    n_units
        Number of units ``J`` (treated and comparison).
    treated_share
        Share of units treated, ``P``.
    pre, post
        Numbers of pre- and post-treatment periods, ``m`` and ``r``.
    sigma2
        Variance of the idiosyncratic error (unit and period effects removed).
    psi_pre, psi_post, psi_cross
        Average within-unit covariance of the errors between two distinct pre-periods, two distinct
        post-periods, and a pre- and a post-period.
    alpha
        Two-sided significance level.
    power
        Power, ``1 - kappa``.
    df
        Degrees of freedom of the Student-t critical values; ``None`` uses ``n_units``.

    Returns
    -------
    float
        The smallest effect detected with probability ``power`` in a two-sided test at level ``alpha``.
    """
    if not 0 < alpha < 1:
        raise CeciError(f"alpha={alpha!r}; expected a level strictly between 0 and 1")
    if not 0 < power < 1:
        raise CeciError(f"power={power!r}; expected a probability strictly between 0 and 1")
    v = mde_variance(n_units, treated_share, pre, post, sigma2, psi_pre, psi_post, psi_cross)
    d = float(n_units) if df is None else _positive("df", df)
    return float((stats.t.ppf(power, d) + stats.t.ppf(1 - alpha / 2, d)) * np.sqrt(v))


def power_of(effect: float, n_units: float, treated_share: float, pre: int, post: int, sigma2: float,
             psi_pre: float = 0.0, psi_post: float = 0.0, psi_cross: float = 0.0, alpha: float = 0.05,
             df: float | None = None) -> float:
    """Power against ``effect`` implied by the same formula (one tail of the two-sided test, as in eq. 2).

    Parameters
    ----------
    effect : float
        The true effect.
    n_units : float
        Units in the experiment.
    treated_share : float
        Share of them treated.
    pre : int
        Pre-periods.
    post : int
        Post-periods.
    sigma2 : float
        Residual variance of the outcome.
    psi_pre : float
        Average residual covariance between two pre-periods.
    psi_post : float
        Average residual covariance between two post-periods.
    psi_cross : float
        Average residual covariance between a pre- and a post-period.
    alpha : float
        Level of the two-sided test.
    df : float, optional
        Degrees of freedom of the Student-t critical values (default: ``n_units``).
    """
    v = mde_variance(n_units, treated_share, pre, post, sigma2, psi_pre, psi_post, psi_cross)
    d = float(n_units) if df is None else _positive("df", df)
    return float(stats.t.cdf(abs(effect) / np.sqrt(v) - stats.t.ppf(1 - alpha / 2, d), d))


@dataclass(frozen=True)
class VarianceComponents:
    """``sigma2`` and the three average covariances of BPW, estimated from a panel's residuals.

    Attributes
    ----------
    sigma2 : float
        Variance of the residual outcome.
    psi_pre : float
        Average covariance of residuals between two pre-periods.
    psi_post : float
        Average covariance between two post-periods.
    psi_cross : float
        Average covariance between a pre- and a post-period.
    n_units : int
        Units the components were estimated on.
    pre : int
        Pre-periods of the design.
    post : int
        Post-periods of the design.
    periods : tuple
        The periods used.
    """

    sigma2: float
    psi_pre: float
    psi_post: float
    psi_cross: float
    n_units: int
    pre: int
    post: int
    periods: tuple

    def to_dict(self) -> dict:
        d = asdict(self)
        d["periods"] = [str(p) for p in self.periods]
        return d


def variance_components(data: pd.DataFrame, yname: str, idname: str, tname: str, pre: int, post: int,
                        gname: str | None = None) -> VarianceComponents:
    """Estimate ``sigma2`` and ``psi_pre``, ``psi_post``, ``psi_cross`` from the panel's own history.

    The last ``pre + post`` calendar periods before any unit is treated (all periods when ``gname`` is None)
    form a hypothetical experiment: the first ``pre`` play the pre-period, the rest the post-period. On the units
    observed in every one of those periods, the outcome's unit and period means are removed (two-way within
    transformation of a balanced panel), and the components are the averages over units of the residual
    variance and of the residual cross-products within the pre part, within the post part and across them
    (BPW's ex-ante estimates; they are slightly negative-biased by the removal of the means, which BPW show to
    matter little when the window is long).

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel: one row per unit and period.
    yname : str
        Outcome column.
    idname : str
        Unit identifier column.
    tname : str
        Period column.
    pre : int
        Pre-periods of the hypothetical experiment.
    post : int
        Post-periods of the hypothetical experiment.
    gname : str, optional
        Cohort column: only periods before the first treatment are used (None: all periods).
    """
    m, r = int(_positive("pre", pre, whole=True)), int(_positive("post", post, whole=True))
    for c in (yname, idname, tname) + ((gname,) if gname else ()):
        if c not in data.columns:
            raise CeciError(f"variance_components: column {c!r} not in the panel")
    d = data[[idname, tname, yname] + ([gname] if gname else [])].dropna(subset=[yname])
    periods = np.sort(d[tname].unique())
    if gname:
        g = pd.to_numeric(d[gname], errors="coerce").fillna(0)
        first = g[g > 0].min() if (g > 0).any() else np.inf
        periods = periods[periods < first]
    if periods.size < m + r:
        raise CeciError(f"variance_components: {periods.size} period(s) before the first treatment; "
                        f"expected at least pre + post = {m + r}")
    window = periods[-(m + r):]
    w = d[d[tname].isin(window)].pivot_table(index=idname, columns=tname, values=yname, aggfunc="mean")
    Y = w.reindex(columns=window).dropna().to_numpy(float)
    if Y.shape[0] < 2:
        raise CeciError(f"variance_components: {Y.shape[0]} unit(s) observed in all of the last {m + r} "
                        "pre-treatment periods; expected at least 2")
    E = Y - Y.mean(axis=1, keepdims=True) - Y.mean(axis=0, keepdims=True) + Y.mean()
    sigma2 = float((E**2).mean())
    a, b = E[:, :m], E[:, m:]
    sa, sb = a.sum(axis=1), b.sum(axis=1)
    psi_b = float(((sa**2 - (a**2).sum(axis=1)) / (m * (m - 1))).mean()) if m > 1 else 0.0
    psi_a = float(((sb**2 - (b**2).sum(axis=1)) / (r * (r - 1))).mean()) if r > 1 else 0.0
    psi_x = float((sa * sb / (m * r)).mean())
    return VarianceComponents(sigma2=sigma2, psi_pre=psi_b, psi_post=psi_a, psi_cross=psi_x, n_units=int(Y.shape[0]),
                              pre=m, post=r, periods=tuple(window.tolist()))
