"""Verdicts a ministry can act on: what was detected, what is ruled out, and what the data cannot yet tell.

A headline estimate with its interval is read in one of three states (the "three-way" reading of an interval
recommended for policy evaluations that must report null results honestly; see Lakens, Scheel & Isager 2018,
"Equivalence testing for psychological research", and the minimum-detectable-effect reporting of Bloom 1995 and
Duflo, Glennerster & Kremer 2007):

``"detected"``
    the interval excludes zero: an effect was detected, with its interval;
``"ruled_out"``
    the interval includes zero and lies entirely within ± the smallest effect of practical size: effects larger
    than the interval's farthest bound are ruled out (an equivalence reading of the same interval);
``"inconclusive"``
    the interval includes zero and reaches beyond the practical size: the data do not rule out effects of up to the
    farthest bound. The minimum detectable effect at 80 % power (under the same inference as the interval: the
    standard error the interval implies — its half-width over its critical value — and the same Student-t or normal
    quantiles, so that bootstrap and randomisation intervals are read alike) says how large an effect this design
    can see, and a square-root projection in the number of treated clusters says roughly how many opened centres would make an
    effect of practical size detectable.

The projection is this project's own approximation (the standard error of a clustered estimate shrinks about as
one over the square root of the number of treated clusters when clusters are alike); it is labelled as such
wherever it is shown.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

from scipy import stats

from .._options import check_option
from ..i18n import Text, fmt_number, fmt_signed, msg

VerdictState = Literal["detected", "ruled_out", "inconclusive"]
VERDICT_STATES: tuple[str, ...] = ("detected", "ruled_out", "inconclusive")
PRACTICAL_REL = 0.05  # default smallest effect of practical size: 5 % of the comparison mean (log points for logs)
PLANNED_CENTRES = 1000  # the agreement between IMSS and the Secretaría de Economía


def quantile(p: float, df: float | None) -> float:
    """The ``p`` quantile of the interval's reference distribution: Student-t with ``df`` degrees of freedom when
    given (finite and positive), else the standard normal.

    Parameters
    ----------
    p : float
        Probability in (0, 1).
    df : float or None
        Degrees of freedom of a Student-t interval; None (or not finite) for a normal one.
    """
    if df is not None and math.isfinite(df) and df > 0:
        return float(stats.t.ppf(p, df))
    return float(stats.norm.ppf(p))


def minimum_detectable_effect(se: float, *, alpha: float = 0.05, power: float = 0.8, df: float | None = None) -> float:
    """The minimum detectable effect of a two-sided test at level ``alpha`` with power ``power`` (Bloom 1995,
    "Minimum detectable effects: a simple way to report the statistical power of experimental designs"):
    ``(q(1 − alpha/2) + q(power)) × se``, with the quantiles ``q`` of the same distribution as the interval.

    Parameters
    ----------
    se : float
        Standard error of the estimate (the one its interval uses).
    alpha : float
        Level of the two-sided test.
    power : float
        Power at which the effect is detectable.
    df : float or None
        Degrees of freedom when the interval is Student-t; None for normal quantiles.
    """
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must lie in (0, 1); found alpha={alpha}, power={power}")
    return (quantile(1 - alpha / 2, df) + quantile(power, df)) * abs(se)


def practical_size(outcome: str, baseline: float | None, rel: float = PRACTICAL_REL) -> float | None:
    """The smallest effect of practical size of an outcome: ``rel`` of its comparison mean (a level), or ``rel``
    itself for log outcomes (log points ≈ per cent). None when the comparison mean is unknown or zero.

    Parameters
    ----------
    outcome : str
        Name of the outcome (a key of :data:`ceci_impact.data.outcomes.OUTCOMES`).
    baseline : float or None
        Mean of the outcome among comparison units before the first opening.
    rel : float
        The practical size as a share of the comparison mean (0.05: five per cent).
    """
    if not rel > 0:
        raise ValueError(f"the practical size must be a positive share of the comparison mean; found {rel}")
    if outcome.startswith("log_"):
        return float(rel)
    if baseline is None or not math.isfinite(baseline) or baseline == 0:
        return None
    return abs(float(baseline)) * rel


@dataclass(frozen=True)
class Verdict:
    """The reading of one headline interval (see the module docstring for the three states).

    Parameters
    ----------
    state : {"detected", "ruled_out", "inconclusive"}
        The verdict.
    estimate, ci_low, ci_high : float
        The estimate and its interval.
    alpha : float
        The interval's level is ``1 - alpha``.
    df : float or None
        Degrees of freedom of a Student-t interval (None: normal).
    mde : float
        Minimum detectable effect at ``power`` under the interval's own inference.
    power : float
        Power of :attr:`mde`.
    practical : float or None
        The smallest effect of practical size used to tell "ruled out" from "inconclusive".
    bound : float
        The interval's bound farthest from zero, in absolute value: the largest effect the data do not rule out.
    treated_clusters : int or None
        Treated clusters (opened centres or treated municipalities) behind the estimate, when known.
    clusters_needed : int or None
        Approximate number of treated clusters at which an effect of practical size becomes detectable at
        ``power`` (square-root projection; None when not inconclusive or not computable).
    """

    state: VerdictState
    estimate: float
    ci_low: float
    ci_high: float
    alpha: float
    df: float | None
    mde: float
    power: float
    practical: float | None
    bound: float
    treated_clusters: int | None = None
    clusters_needed: int | None = None

    def to_dict(self) -> dict:
        """The verdict as plain JSON-ready values."""
        return asdict(self)

    def text(self, fmt=None) -> Text:
        """The verdict in a sentence, in both languages; ``fmt`` formats an effect (default: signed number).

        Parameters
        ----------
        fmt : callable, optional
            Formats an effect for the sentence (default: a signed number).
        """
        f = fmt or (lambda v: fmt_number(v))
        if self.state == "detected":
            return msg("verdict.detected", lo=fmt_signed(self.ci_low), hi=fmt_signed(self.ci_high))
        if self.state == "ruled_out":
            return msg("verdict.ruled_out", x=f(self.bound))
        out = msg("verdict.inconclusive", x=f(self.bound), mde=f(self.mde), power=f"{100 * self.power:g}")
        if self.clusters_needed is not None and self.treated_clusters:
            key = "verdict.when" if self.clusters_needed <= PLANNED_CENTRES else "verdict.when_never"
            out += msg(key, need=f"{self.clusters_needed:,}", now=f"{self.treated_clusters:,}",
                       planned=f"{PLANNED_CENTRES:,}", practical=f(self.practical))
        return out

    @property
    def label_key(self) -> str:
        """The message key of the verdict's short label (``index.state_*``)."""
        return f"verdict.state_{self.state}"


def verdict(estimate: float, ci_low: float, ci_high: float, se: float, *, outcome: str = "",
            baseline: float | None = None, alpha: float = 0.05, df: float | None = None, power: float = 0.8,
            practical_rel: float = PRACTICAL_REL, treated_clusters: int | None = None) -> Verdict:
    """Read a headline interval in three states (module docstring).

    Parameters
    ----------
    estimate, ci_low, ci_high, se : float
        The estimate, its interval and the standard error the interval uses.
    outcome : str
        The outcome's registry name (its practical size depends on whether it is a log).
    baseline : float or None
        Comparison mean before the first opening.
    alpha : float
        One minus the interval's level.
    df : float or None
        Degrees of freedom of a Student-t interval; None for a normal interval.
    power : float
        Power of the minimum detectable effect.
    practical_rel : float
        Smallest effect of practical size as a share of the comparison mean.
    treated_clusters : int or None
        Treated clusters behind the estimate (for the projection of when an effect becomes detectable).
    """
    vals = (estimate, ci_low, ci_high, se)
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
        raise ValueError(f"a verdict needs a finite estimate, interval and standard error; found {vals}")
    if ci_low > ci_high:
        raise ValueError(f"the interval's lower bound {ci_low} exceeds its upper bound {ci_high}")
    # the standard error the interval implies (half-width over its critical value): the MDE then follows the
    # report's inference rule whatever it is (Student-t, wild-bootstrap or randomisation intervals alike)
    implied = (ci_high - ci_low) / (2 * quantile(1 - alpha / 2, df))
    mde = minimum_detectable_effect(implied if implied > 0 else se, alpha=alpha, power=power, df=df)
    practical = practical_size(outcome, baseline, practical_rel)
    bound = max(abs(ci_low), abs(ci_high))
    if ci_low > 0 or ci_high < 0:
        state = "detected"
    elif practical is not None and bound <= practical:
        state = "ruled_out"
    else:
        state = "inconclusive"
    need = None
    if state == "inconclusive" and practical and treated_clusters and treated_clusters > 0:
        need = max(int(math.ceil(treated_clusters * (mde / practical) ** 2)), treated_clusters)
    return Verdict(check_option("state", state, VerdictState), float(estimate), float(ci_low), float(ci_high),
                   float(alpha), df, float(mde), float(power), practical, float(bound), treated_clusters, need)


def headline_verdict(h: dict, *, practical_rel: float = PRACTICAL_REL, power: float = 0.8,
                     treated_clusters: int | None = None) -> Verdict:
    """The verdict of one headline record (``EventStudy.headline()``, as the sidecars hold it).

    Parameters
    ----------
    h : dict
        The headline record: ``outcome``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``alpha``, ``df`` and
        ``baseline``.
    practical_rel : float
        Smallest effect of practical size as a share of the comparison mean.
    power : float
        Power of the minimum detectable effect.
    treated_clusters : int or None
        Treated clusters behind the estimate.
    """
    return verdict(h["estimate"], h["ci_low"], h["ci_high"], h["se"], outcome=h.get("outcome", ""),
                   baseline=h.get("baseline"), alpha=h.get("alpha", 0.05), df=h.get("df"), power=power,
                   practical_rel=practical_rel, treated_clusters=treated_clusters)
