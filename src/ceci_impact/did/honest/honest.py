"""Rambachan–Roth sensitivity analysis (R ``HonestDiD``): how robust is an event-study effect to violations of
parallel trends?

Two restrictions on the post-treatment trend difference ``delta_post``:

- **smoothness** Delta^SD(M): the slope of the trend difference changes by at most ``M`` per period
  (fixed-length intervals by default; conditional and conditional-LF test inversion in ``deltasd``).
  ``flci`` follows HonestDiD's ``findOptimalFLCI`` (Rambachan and Roth 2023; Armstrong and Kolesár): the
  affine estimator ``l'beta_post + w_pre'beta_pre`` whose worst-case bias over Delta^SD(M) and standard
  deviation give the shortest interval ``estimate ± cv_alpha(bias/sd) * sd`` (``cv`` the folded-normal
  quantile); the bias problem is solved for each standard-deviation bound ``h`` and ``h`` is chosen by the same
  derivative bisection as the R package.
- **relative magnitudes** Delta^RM(Mbar): no post-treatment change of the trend difference exceeds ``Mbar``
  times the largest pre-treatment change. Intervals invert the conditional least-favourable hybrid test of
  Andrews, Roth and Pakes over a grid (``deltarm``, ``arp``), as ``createSensitivityResults_relativeMagnitudes``.

Both reproduce HonestDiD's simulated quantities with R's own seed-0 random draws (``r_compat``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..._options import CeciError, check_option
from ..core.notes import recording
from ..core.results import _json, table_html
from .r_compat import r_normal_draws


def _matrices(sigma, K, l_vec):
    D = np.eye(K)
    for c in range(K - 1):
        D[c + 1, c] = -1.0  # pre-period weights l_pre = D w (first differences of cumulated weights)
    S_pre, S_pp = sigma[:K, :K], sigma[:K, K:]
    S_post = float(l_vec @ sigma[K:, K:] @ l_vec)
    Aq = D.T @ S_pre @ D
    Al = 2 * D.T @ S_pp @ l_vec
    return D, Aq, Al, S_post


def _var(w, Aq, Al, Ac):
    return float(w @ Aq @ w + Al @ w + Ac)


def _bias_constant(l_vec):
    P = l_vec.size
    c = sum(abs(np.arange(1, s + 1) @ l_vec[P - s:]) for s in range(1, P + 1))
    return c - np.arange(1, P + 1) @ l_vec


def _worst_case_bias(h, K, l_vec, Aq, Al, Ac, w0=None):
    """min sum|cumsum(w)| + constant  s.t. sum(w) = sum_j j*l_j,  var(w) <= h^2  (bias per unit of M)."""
    target = np.arange(1, l_vec.size + 1) @ l_vec
    L = np.tril(np.ones((K, K)))
    # variables z = (u, w): minimise sum(u) with -u <= L w <= u
    cons = [
        {"type": "ineq", "fun": lambda z: z[:K] - L @ z[K:], "jac": lambda z: np.hstack([np.eye(K), -L])},
        {"type": "ineq", "fun": lambda z: z[:K] + L @ z[K:], "jac": lambda z: np.hstack([np.eye(K), L])},
        {"type": "eq", "fun": lambda z: np.sum(z[K:]) - target, "jac": lambda z: np.r_[np.zeros(K), np.ones(K)]},
        {"type": "ineq", "fun": lambda z: h**2 - _var(z[K:], Aq, Al, Ac),
         "jac": lambda z: np.r_[np.zeros(K), -(2 * Aq @ z[K:] + Al)]},
    ]
    if w0 is None:
        w0 = np.r_[np.zeros(K - 1), target]
    z0 = np.r_[np.abs(L @ w0) + 1e-3, w0]
    res = optimize.minimize(lambda z: np.sum(z[:K]), z0, jac=lambda z: np.r_[np.ones(K), np.zeros(K)],
                            constraints=cons, method="SLSQP", options={"ftol": 1e-14, "maxiter": 1000})
    w = res.x[K:]
    return float(np.sum(np.abs(L @ w)) + _bias_constant(l_vec)), w


def _min_sd(K, l_vec, Aq, Al, Ac):
    """Smallest standard deviation over weights with sum(w) = sum_j j*l_j (an equality-constrained QP)."""
    target = np.arange(1, l_vec.size + 1) @ l_vec
    one = np.ones(K)
    KKT = np.block([[2 * Aq, one[:, None]], [one[None, :], np.zeros((1, 1))]])
    sol = np.linalg.lstsq(KKT, np.r_[-Al, target], rcond=None)[0]
    w = sol[:K]
    return np.sqrt(max(_var(w, Aq, Al, Ac), 0.0)), w


def folded_normal_quantile(p: float, mu: float) -> float:
    """Exact quantile of |N(mu, 1)|.

    Parameters
    ----------
    p : float
        Probability.
    mu : float
        Mean of the normal before folding.
    """
    mu = abs(mu)
    return optimize.brentq(lambda x: stats.norm.cdf(x - mu) - stats.norm.cdf(-x - mu) - p, 0.0, mu + 10.0)


_R_DRAWS: np.ndarray | None = None


def r_folded_normal_quantile(p: float, mu: float) -> float:
    """HonestDiD's ``.qfoldednormal``: type-7 quantile of ``|Z + mu|`` over R's seed-0 draws.

    Parameters
    ----------
    p : float
        Probability.
    mu : float
        Mean of the normal before folding.
    """
    global _R_DRAWS
    if _R_DRAWS is None:
        _R_DRAWS = r_normal_draws()
    return float(np.quantile(np.abs(_R_DRAWS + mu), p))


def flci(betahat, sigma, num_pre: int, num_post: int, l_vec=None, M: float = 0.0, alpha: float = 0.05,
         num_points: int = 100, quantile: str = "R") -> dict:
    """Optimal fixed-length confidence interval for ``l'tau_post`` under Delta^SD(M).

    ``quantile="R"`` uses HonestDiD's simulated folded-normal quantiles (R's seed-0 draws, reproduced
    exactly), ``"exact"`` the exact quantile. Returns ``{"lb", "ub", "halflength", "optimal_vec", "h"}``.

    Parameters
    ----------
    betahat : numpy.ndarray
        Event-study estimates, pre-periods first (reference period left out).
    sigma : numpy.ndarray
        Their covariance.
    num_pre : int
        Pre-periods.
    num_post : int
        Post-periods.
    l_vec : numpy.ndarray, optional
        Weights of the post-period target (default: the first post period).
    M : float
        Bound on the change in slope of the trend difference (Delta^SD(M)).
    alpha : float
        Level.
    num_points : int
        Grid points of the half-length optimisation.
    quantile : {'R', 'exact'}
        Folded-normal quantiles as HonestDiD simulates them, or exact.
    """
    qf = r_folded_normal_quantile if quantile == "R" else folded_normal_quantile
    betahat, sigma = np.asarray(betahat, float), np.asarray(sigma, float)
    K, P = num_pre, num_post
    l_vec = np.eye(P)[0] if l_vec is None else np.asarray(l_vec, float)
    D, Aq, Al, Ac = _matrices(sigma, K, l_vec)
    target = np.arange(1, P + 1) @ l_vec
    w_h0 = np.r_[np.zeros(K - 1), target]
    h0 = np.sqrt(_var(w_h0, Aq, Al, Ac))
    hmin, _ = _min_sd(K, l_vec, Aq, Al, Ac)
    q = 1 - alpha

    def f(h):
        b, _ = _worst_case_bias(h, K, l_vec, Aq, Al, Ac)
        return qf(q, M * b / h) * h

    a, b = hmin * (1 + 1e-12), h0
    hstar = None
    if M == 0 or b - a <= 0:
        hstar = a
    else:  # R's .findOptimalCIDerivativeBisection, including its failure rule
        failtol = np.sqrt(np.finfo(float).eps)
        dif = min((b - a) / num_points, abs(b) * np.finfo(float).eps ** (1 / 3))
        fa, fb = f(a), f(b)
        fpa, fpb = (f(a + dif) - fa) / dif, (f(b - dif) - fb) / -dif
        maxit = 10 * int(np.ceil(np.log(abs(b - a) / dif) / np.log(2)))
        failed = fpa > fpb or not (np.isfinite(fa) and np.isfinite(fb))
        if not failed:
            if fpb < 0:
                hstar = b
            elif fpa > 0:
                hstar = a
            else:
                it = 1
                while not failed and abs(b - a) > dif:
                    it += 1
                    x = (a + b) / 2
                    fpx = (f(x + dif) - f(x - dif)) / (2 * dif)
                    failed = fpx > fpb + failtol or fpx + failtol < fpa or it > maxit
                    if fpx > 0:
                        b = x
                    else:
                        a = x
                hstar = None if failed else (a + b) / 2
        if hstar is None:  # fall back to a grid of num_points values of h, as R does
            grid = np.linspace(hmin, h0, num_points)
            lengths = [qf(q, M * _worst_case_bias(h, K, l_vec, Aq, Al, Ac)[0] / h) * h for h in grid]
            hstar = float(grid[int(np.argmin(lengths))])
    bias, w = _worst_case_bias(hstar, K, l_vec, Aq, Al, Ac)
    if M == 0:
        _, w = _min_sd(K, l_vec, Aq, Al, Ac)
        hstar = np.sqrt(_var(w, Aq, Al, Ac))
    half = qf(q, M * bias / hstar) * hstar
    vec = np.r_[D @ w, l_vec]
    center = float(vec @ betahat)
    return {"lb": center - half, "ub": center + half, "halflength": half, "optimal_vec": vec, "h": hstar}


_LABELS = {
    "smoothness": ("M", "M (bound on the change in slope of the trend difference per period)",
                   "Smoothness restriction (Delta^SD): the slope of the trend difference may change by at most M per period."),
    "relative_magnitude": ("Mbar", "Mbar (post violations relative to the largest pre-period violation)",
                           "Relative magnitudes (Delta^RM): no post-treatment change of the trend difference exceeds "
                           "Mbar times the largest pre-treatment change."),
}


@dataclass(frozen=True, eq=False)
class HonestResult:
    """Robust intervals for one target (a post period or the post average) over a grid of M (or Mbar).

    ``table`` has one row per value with columns ``M, lb, ub, method``; for relative magnitudes ``M`` holds
    Mbar (R's ``Mbar``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per M (or M̄): ``M, lb, ub, method``.
    original : tuple of float
        The original (parallel-trends) confidence interval of the target.
    target : str
        The target: one post period or the post average.
    alpha : float
        Significance level.
    params : dict
        The arguments of the call that produced the result.
    """

    table: pd.DataFrame  # M, lb, ub, method
    original: tuple[float, float]
    target: str
    alpha: float
    params: dict = field(default_factory=dict)

    @property
    def type(self) -> str:
        return self.params.get("type", "smoothness")

    def tidy(self) -> pd.DataFrame:
        orig = pd.DataFrame({"M": [np.nan], "lb": [self.original[0]], "ub": [self.original[1]], "method": ["Original"]})
        return pd.concat([orig, self.table], ignore_index=True)

    @property
    def breakdown(self) -> float | None:
        """Smallest M (Mbar) of the grid whose robust interval includes zero (None if none does)."""
        cover = self.table[(self.table.lb <= 0) & (self.table.ub >= 0)]
        return float(cover.M.min()) if len(cover) else None

    def summary(self) -> str:
        bd = self.breakdown
        name = _LABELS[self.type][0]
        return (f"HonestDiD sensitivity ({self.type}) for {self.target}; breakdown {name} = "
                f"{'none in grid' if bd is None else f'{bd:.4g}'}\n" + self.tidy().to_string(index=False))

    def _repr_html_(self) -> str:
        bd = self.breakdown
        name, _, text = _LABELS[self.type]
        lo, hi = self.original
        if lo <= 0 <= hi:
            tail = "The original interval already includes zero."
        else:
            tail = f"Breakdown value ({name}): {'none in the grid' if bd is None else f'{bd:.4g}'}."
        extra = ""
        if self.params.get("bound") == "deviation from linear trend":
            extra = " Violations are measured as deviations from a linear trend (Delta^SDRM)."
        if self.params.get("biasDirection"):
            extra += f" Also imposed: the post-treatment trend difference is {self.params['biasDirection']}."
        elif self.params.get("monotonicityDirection"):
            extra += f" Also imposed: the trend difference is monotone ({self.params['monotonicityDirection']})."
        shown = self.tidy().rename(columns={"M": "Mbar" if self.type == "relative_magnitude" else "M"})
        return table_html(shown, f"Sensitivity to violations of parallel trends ({self.target})",
                          [f"{text}{extra} {tail}"])

    def to_dict(self) -> dict:
        return _json({"estimator": "honest_did", "type": self.type, "target": self.target, "original": list(self.original),
                      "breakdown": self.breakdown, "table": self.table.to_dict(orient="list"), "params": self.params})

    def plot(self, ax=None):
        """Draw the result (matplotlib); returns the axes.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.6))
        t = self.table
        _, xlabel, _ = _LABELS[self.type]
        method = t.method.iat[0] if len(t) else ""
        ax.vlines(t.M, t.lb, t.ub, color="#1f4e79", lw=3, label=f"robust ({method})")
        step = (t.M.max() - t.M.min()) / max(len(t) - 1, 1) if len(t) > 1 else 1.0
        ax.vlines([t.M.min() - step], [self.original[0]], [self.original[1]], color="#b7410e", lw=3, label="original")
        ax.axhline(0, color="black", lw=0.8)
        ticks = [t.M.min() - step] + list(t.M)
        ax.set_xticks(ticks, ["original"] + [f"{m:.3g}" for m in t.M])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("effect")
        ax.set_title(f"HonestDiD sensitivity: {self.target}")
        ax.legend(frameon=False, fontsize=8)
        return ax


HonestType = Literal["smoothness", "relative_magnitude"]
HonestMethod = Literal["FLCI", "C-LF", "Conditional"]
BiasDirection = Literal["positive", "negative"]
RMBound = Literal["deviation from parallel trends", "deviation from linear trend"]
MonotonicityDirection = Literal["increasing", "decreasing"]
_METHODS = {"smoothness": ("FLCI", "C-LF", "Conditional"), "relative_magnitude": ("C-LF", "Conditional")}


def event_study_moments(result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(event_times, betahat, sigma)`` of any result that follows the event-study protocol
    (``result.event_study()``: a Callaway–Sant'Anna dynamic aggregation, an event-study ``twfe``, an
    ``EventStudyResult`` with ``vcov`` such as Sun–Abraham, imputation or Poisson).

    Parameters
    ----------
    result : event-study result
        Any result with ``event_study()``.
    """
    if not callable(getattr(result, "event_study", None)):
        raise CeciError(f"honest_did cannot read {type(result).__name__}; expected a result with event_study() "
                        "(a CS dynamic aggregation, an event-study TWFE or an EventStudyResult with vcov)")
    try:
        m = result.event_study()
    except TypeError as exc:
        raise CeciError(f"honest_did cannot read {type(result).__name__}: {exc}") from None
    return m.event_time, m.estimate, m.vcov


def _check_consecutive(ev: np.ndarray) -> None:
    pre, post = ev[ev < 0], ev[ev >= 0]
    ok_pre = np.all(np.diff(pre) == 1) and (pre.size == 0 or pre.max() in (-1.0, -2.0))
    ok_post = np.all(np.diff(post) == 1) and post.min() == 0
    if not (ok_pre and ok_post):
        raise CeciError("honest_did needs consecutive event times (pre-periods up to -2 or -1, post-periods from 0); "
                        f"found {', '.join(str(int(x)) for x in ev)}")


def _grid_intervals(fn, b, S, K, P, l_vec, values, method, alpha, grid_points, grid_lb, grid_ub, seed, name,
                    **restriction) -> list[dict]:
    """Test-inversion intervals (smallest and largest accepted grid value) for each M or Mbar, as R reports them."""
    rows, open_ends = [], []
    for v in values:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            grid, acc = fn(b, S, K, P, l_vec, float(v), alpha=alpha, hybrid="LF" if method == "C-LF" else "ARP",
                           grid_points=grid_points, grid_lb=grid_lb, grid_ub=grid_ub, seed=seed, **restriction)
        if any("open at an end" in str(w.message) for w in caught):
            open_ends.append(float(v))
        lb, ub = (float(grid[acc].min()), float(grid[acc].max())) if acc.any() else (np.nan, np.nan)
        rows.append({"M": float(v), "lb": lb, "ub": ub, "method": method})
    if open_ends:
        warnings.warn(f"HonestDiD: the robust interval reaches the end of the grid for {name} = {open_ends}; its "
                      "length is understated — widen grid_lb/grid_ub", stacklevel=3)
    return rows


def honest_did(result, *, e: int | str = 0, type: HonestType = "smoothness", Mvec=None, Mbarvec=None,
               method: HonestMethod | None = None, alpha: float = 0.05, gridPoints: int = 1000,
               grid_lb: float | None = None, grid_ub: float | None = None, seed: int = 0,
               biasDirection: BiasDirection | None = None,
               monotonicityDirection: MonotonicityDirection | None = None,
               bound: RMBound = "deviation from parallel trends", l_vec=None,
               target: str | None = None) -> HonestResult:
    """Rambachan–Roth sensitivity analysis of an event-study result (R HonestDiD's ``honest_did``).

    Parameters
    ----------
    result
        CS dynamic aggregation (universal base period, as R requires), event-study TWFE, Sun–Abraham,
        imputation or Poisson event study (any result exposing its event-time covariance).
    e
        The post-treatment event time whose effect is bounded, or ``"average"`` for the mean of all
        post-treatment effects.
    type
        ``"smoothness"`` (Delta^SD(M), fixed-length confidence intervals) or ``"relative_magnitude"``
        (Delta^RM(Mbar), conditional least-favourable hybrid intervals).
    Mvec
        Smoothness grid (default: 0 to twice the standard error of the target, 6 values).
    Mbarvec
        Relative-magnitudes grid (default, as R: 10 values from 0 to 2).
    method
        Smoothness: ``"FLCI"`` (default, fixed-length), ``"C-LF"`` or ``"Conditional"`` (test inversion, R's
        ``computeConditionalCS_DeltaSD``); relative magnitudes: ``"C-LF"`` (default) or ``"Conditional"``.
    alpha
        Level: intervals cover with probability ``1 - alpha``.
    gridPoints, grid_lb, grid_ub
        Test-inversion grid (R's defaults: 1,000 values on ±20 standard errors of the target around zero for
        relative magnitudes, around the identified set at zero for smoothness). Endpoints are grid values, so
        their resolution is the grid step.
    seed
        Seed of R's random-number generator for the simulated critical values (R's default 0 reproduces R).
    biasDirection, monotonicityDirection
        Optional extra knowledge (R's names): the post-treatment trend difference has a known sign
        (``"positive"``/``"negative"``: Delta^RMB, Delta^SDB) or the trend difference is monotone
        (``"increasing"``/``"decreasing"``: Delta^RMM, Delta^SDM). Not both; for smoothness they need the
        test-inversion methods (``"C-LF"`` or ``"Conditional"``).
    bound
        Relative magnitudes only (R's name): ``"deviation from parallel trends"`` (Delta^RM) or ``"deviation from
        linear trend"`` (Delta^SDRM: post-period second differences at most Mbar times the largest pre-period
        one; needs two pre-periods).
    l_vec
        Weights of the post-treatment event times defining the target (R's ``l_vec``), as a mapping
        ``{event_time: weight}`` or an array over the post-treatment event times in order; overrides ``e``. For the
        headline (``aggte("simple")``) use :func:`ceci_impact.did.inference.simple_event_weights`.
    target
        Name of the target shown with the result (with ``l_vec``).

    Returns
    -------
    HonestResult
        ``tidy()``: the original interval and one row per M (Mbar) with ``M, lb, ub, method``.
    """
    check_option("type", type, HonestType)
    if method is not None:
        check_option("method", method, HonestMethod)
        if method not in _METHODS[type]:
            raise CeciError(f"method={method!r} is not available for type={type!r}; expected one of "
                            f"{', '.join(repr(m) for m in _METHODS[type])}")
    check_option("bound", bound, RMBound)
    if bound != "deviation from parallel trends" and type != "relative_magnitude":
        raise CeciError(f"bound={bound!r} applies to type='relative_magnitude' only")
    if biasDirection is not None:
        check_option("biasDirection", biasDirection, BiasDirection)
    if monotonicityDirection is not None:
        check_option("monotonicityDirection", monotonicityDirection, MonotonicityDirection)
    if biasDirection is not None and monotonicityDirection is not None:
        raise CeciError("choose either biasDirection or monotonicityDirection, not both (as HonestDiD)")
    restricted = biasDirection is not None or monotonicityDirection is not None
    if method is None:
        method = "C-LF" if (type == "smoothness" and restricted) else _METHODS[type][0]
    if method == "FLCI" and restricted:
        raise CeciError("biasDirection/monotonicityDirection need method='C-LF' or 'Conditional' for smoothness; "
                        "found method='FLCI'")
    if not 0 < alpha < 1:
        raise CeciError(f"alpha must lie in (0, 1); found {alpha!r}")
    if int(gridPoints) != gridPoints or gridPoints < 2:
        raise CeciError(f"gridPoints must be an integer of at least 2; found {gridPoints!r}")
    if Mvec is not None and np.any(np.asarray(Mvec, float) < 0):
        raise CeciError(f"Mvec must be non-negative; found {list(Mvec)}")
    ev, b, S = event_study_moments(result)
    pre, post = ev < 0, ev >= 0
    if pre.sum() < 1 or post.sum() < 1:
        raise CeciError("honest_did needs at least one pre-treatment and one post-treatment event time")
    order = np.r_[np.flatnonzero(pre), np.flatnonzero(post)]
    ev, b, S = ev[order], b[order], S[np.ix_(order, order)]
    _check_consecutive(ev)
    if not (np.isfinite(b).all() and np.isfinite(S).all()):
        raise CeciError("honest_did: the event-study coefficients or their covariance contain NaN; restrict the "
                        "event window (min_e/max_e) to event times that are estimated")
    K, P = int(pre.sum()), int(post.sum())
    post_e = ev[K:]
    if l_vec is not None:
        if isinstance(l_vec, dict):
            extra = sorted(set(map(float, l_vec)) - set(post_e.tolist()))
            if extra:
                raise CeciError(f"l_vec has event times {extra} that the event study does not estimate; expected a "
                                f"subset of {', '.join(str(int(x)) for x in post_e)}")
            l_vec = np.array([float(l_vec.get(x, l_vec.get(int(x), 0.0))) for x in post_e])
        l_vec = np.asarray(l_vec, float)
        if l_vec.shape != (P,) or not np.isfinite(l_vec).all():
            raise CeciError(f"l_vec must hold {P} finite weights (one per post-treatment event time); found "
                            f"{l_vec.shape[0] if l_vec.ndim else 'a scalar'}")
        target = target or "weighted post-treatment effect (l_vec)"
    elif e == "average":
        l_vec = np.full(P, 1 / P)
        target = "average post-treatment effect"
    else:
        if float(e) not in set(post_e):
            raise CeciError(f"e={e!r} is not a post-treatment event time; expected one of "
                            f"{', '.join(str(int(x)) for x in post_e)} or 'average'")
        l_vec = (post_e == float(e)).astype(float)
        target = f"effect at event time {int(float(e))}"
    se = float(np.sqrt(l_vec @ S[K:, K:] @ l_vec))
    z = stats.norm.ppf(1 - alpha / 2)
    est = float(l_vec @ b[K:])
    rows = []
    params = {"type": type, "e": e, "num_pre": K, "num_post": P, "method": method, "biasDirection": biasDirection,
              "monotonicityDirection": monotonicityDirection, "bound": bound}
    if type == "smoothness" and method == "FLCI":
        if Mvec is None:
            Mvec = np.linspace(0, 2 * se, 6)
        for M in Mvec:
            r = flci(b, S, K, P, l_vec=l_vec, M=float(M), alpha=alpha)
            rows.append({"M": float(M), "lb": r["lb"], "ub": r["ub"], "method": "FLCI"})
    elif type == "smoothness":
        from .deltasd import conditional_cs_sd

        Mvec = np.linspace(0, 2 * se, 6) if Mvec is None else Mvec
        rows = _grid_intervals(conditional_cs_sd, b, S, K, P, l_vec, Mvec, method, alpha, gridPoints, grid_lb, grid_ub,
                               seed, "M", bias_direction=biasDirection, monotonicity_direction=monotonicityDirection)
        params.update(gridPoints=gridPoints, seed=seed)
    else:
        from .deltarm import conditional_cs_rm

        Mbarvec = np.linspace(0, 2, 10) if Mbarvec is None else Mbarvec
        if np.any(np.asarray(Mbarvec, float) < 0):
            raise CeciError(f"Mbarvec must be non-negative; found {list(Mbarvec)}")
        rows = _grid_intervals(conditional_cs_rm, b, S, K, P, l_vec, Mbarvec, method, alpha, gridPoints, grid_lb,
                               grid_ub, seed, "Mbar", bias_direction=biasDirection,
                               monotonicity_direction=monotonicityDirection,
                               linear_trend=bound == "deviation from linear trend")
        params.update(gridPoints=gridPoints, seed=seed)
    return HonestResult(table=pd.DataFrame(rows), original=(est - z * se, est + z * se), target=target, alpha=alpha,
                        params=params)


def honest_breakdown(result, *, e: int | str = 0, type: HonestType = "relative_magnitude", upper: float | None = None,
                     tol: float | None = None, **kwargs) -> float | None:
    """Breakdown value: the smallest M̄ (relative magnitudes) or M (smoothness) whose robust interval includes zero.

    Found by bisection on ``[0, upper]`` (default ``upper``: 10 for M̄; 10 standard errors of the target for M)
    to ``tol`` (default ``upper / 1000``); robust intervals are nested in M̄ and M, so the set of values whose
    interval covers zero is an interval ``[breakdown, ∞)``. Returns 0.0 when the original interval already
    includes zero (the conclusion needs exact parallel trends) and ``None`` when even ``upper`` does not
    overturn it. ``kwargs`` go to :func:`honest_did` (``method``, ``alpha``, ``gridPoints``, ...).

    Parameters
    ----------
    result : event-study result
        Any result with ``event_study()`` (CS dynamic aggregation, TWFE, Sun–Abraham, imputation, Poisson).
    e : int or 'average'
        The target: one post-treatment event time, or the average over post periods.
    type : {'relative_magnitude', 'smoothness'}
        The restriction whose parameter (M̄ or M) is searched.
    upper : float, optional
        Upper end of the bisection (default 10 for M̄, 10 standard errors of the target for M).
    tol : float, optional
        Precision of the bisection (default ``upper / 1000``).
    **kwargs
        Passed to :func:`honest_did` (``method``, ``alpha``, ``gridPoints``, ...).
    """
    check_option("type", type, HonestType)
    key = "Mbarvec" if type == "relative_magnitude" else "Mvec"

    def run(m: float) -> HonestResult:
        with recording():  # re-emitted once per message, never silenced
            return honest_did(result, e=e, type=type, **{key: [m]}, **kwargs)

    def covers(m: float, h: HonestResult | None = None) -> bool:
        t = (h or run(m)).table
        return bool(t.lb.iat[0] <= 0 <= t.ub.iat[0])

    first = run(0.0)
    lo, hi = first.original
    if lo <= 0 <= hi or covers(0.0, first):
        return 0.0
    if upper is None:
        if type == "relative_magnitude":
            upper = 10.0
        else:
            _, _, S = event_study_moments(result)
            upper = 10 * float(np.sqrt(np.max(np.diag(S))))
    if not covers(upper):
        return None
    tol = upper / 1000 if tol is None else tol
    a, b = 0.0, float(upper)
    while b - a > tol:
        mid = (a + b) / 2
        a, b = (a, mid) if covers(mid) else (mid, b)
    return b
