"""Effects in decision units and what they cost: the numbers a ministry weighs beside the technical estimates.

Decision units (:func:`decision_effect`) turn a headline estimate and its interval into quantities an official
plans with: additional women in formal jobs per centre and per 100 places, absence days and separations per 100
workers a year, pesos of daily wage. Costs (:func:`costs`) put a public price on the places that produce them and
give the cost per additional woman in formal work and per absence day avoided, and the IMSS flows the effects
imply. Every figure depends on the stated assumptions (:class:`CostAssumptions`), which the reports print beside
them; every interval is the headline interval carried through the same monotone transformation.

Sources of the defaults
-----------------------
- Cost of a place: the IMSS paid its subrogated (indirect-provision) guarderías a fee per child and month. In the
  public list of the 1,432 subrogated units operating in July 2009 (``guarderias_imss_subrogadas_2009.csv``, the
  back-test's source, see ``reference_data/guarderias/PROVENANCE.md``) the median fee of the 1,430 units with one is
  MXN 2,299.40 (``tests/test_verdict.py`` recomputes it from the original file when ``CECI_REAL_DATA`` is set).
- Price update: that 2009 fee is brought to current pesos by a consumer-price factor, a parameter. The default,
  1.95, is the approximate ratio of INEGI's INPC (base second half of July 2018 = 100) between July 2009 (about 70)
  and July 2024 (about 136); set ``price_factor`` from INEGI's published index for the month you report in.
- IMSS flows: the guarderías y prestaciones sociales branch receives 1 % of the contribution base wage of each job
  (Ley del Seguro Social, art. 211); a general-illness incapacity is paid at 60 % of the contribution base wage
  from the fourth day (art. 96), so avoided days save at most 60 % of a day's wage each (an upper bound: the first
  three days of each certificate are unpaid).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError

MEDIAN_FEE_2009 = 2299.40  # MXN per child and month, median of the 2009 subrogated-guarderías list (module docstring)
PRICE_FACTOR_2009 = 1.95  # INPC July 2024 / July 2009, approximate (module docstring)
GUARDERIAS_RATE = 0.01  # LSS art. 211: guarderías y prestaciones sociales branch, share of the base wage
INCAPACITY_SUBSIDY = 0.60  # LSS art. 96: general-illness subsidy, share of the base wage from the fourth day
MIN_EMPLOYERS = 5  # an aggregate over fewer employers is not published (confidentiality rule of the tables)

_PER_100_YEAR = ("eg_days_per_worker", "rt_days_per_worker", "separation_rate")


@dataclass(frozen=True)
class CostAssumptions:
    """The assumptions behind every cost figure (printed beside them).

    Parameters
    ----------
    fee_per_child_month : float
        What one place costs a month, in the pesos of ``fee_year``.
    fee_year : int
        The year of the fee's prices.
    price_factor : float
        Consumer-price factor from ``fee_year`` to the reporting year.
    occupancy : float
        Share of places occupied (the fee is paid per enrolled child).
    """

    fee_per_child_month: float = MEDIAN_FEE_2009
    fee_year: int = 2009
    price_factor: float = PRICE_FACTOR_2009
    occupancy: float = 1.0

    def __post_init__(self) -> None:
        for name in ("fee_per_child_month", "price_factor", "occupancy"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise CeciError(f"cost assumption {name}={v!r} is not allowed; expected a positive number")
        if self.occupancy > 1:
            raise CeciError(f"cost assumption occupancy={self.occupancy!r} is not allowed; expected a share in (0, 1]")

    @property
    def cost_per_place_year(self) -> float:
        """Pesos a year of one place at current prices."""
        return self.fee_per_child_month * 12 * self.price_factor * self.occupancy

    def to_dict(self) -> dict:
        """The assumptions and the derived cost of a place-year."""
        return {**asdict(self), "cost_per_place_year": self.cost_per_place_year}


def exposure_facts(processed: str | Path) -> dict:
    """Aggregate facts of the exposed population that turn effects into decision units (public or aggregated
    over at least :data:`MIN_EMPLOYERS` employers; None where fewer would be behind a number).

    Parameters
    ----------
    processed : str or Path
        Folder of built panels (``sites.parquet``, ``mun_month.parquet``, ``employer_month.parquet``).

    Returns
    -------
    dict
        ``centres_opened`` and ``places_opened`` (centres open by the end of the window), ``treated_municipalities``,
        ``women_jobs_per_treated_municipality`` (women's insured jobs in the month before the first opening,
        averaged over treated municipalities), ``women_daily_wage`` (their jobs-weighted average daily wage then),
        ``treated_employers`` and ``workers_treated_employers`` (workers of the employers in the treated ring in the
        month before their cohort's opening).
    """
    p = Path(processed)
    sites = pd.read_parquet(p / "sites.parquet", columns=["opening_period", "capacity"])
    mun = pd.read_parquet(p / "mun_month.parquet", columns=["cvegeo", "period", "first_treat", "jobs_women",
                                                             "avg_wage_women"])
    last = int(mun["period"].max())
    opened = sites[(sites["opening_period"] > 0) & (sites["opening_period"] <= last)]
    out: dict = {"centres_opened": int(len(opened)), "places_opened": float(opened["capacity"].sum())}
    treated = mun[mun["first_treat"] > 0]
    pre = treated[treated["period"] == treated["first_treat"] - 1]
    out["treated_municipalities"] = int(treated["cvegeo"].nunique())
    out["women_jobs_per_treated_municipality"] = float(pre["jobs_women"].mean()) if len(pre) else None
    w = pre["jobs_women"].to_numpy(float)
    wage = pre["avg_wage_women"].to_numpy(float)
    ok = np.isfinite(wage) & (w > 0)
    out["women_daily_wage"] = float(np.average(wage[ok], weights=w[ok])) if ok.any() else None
    emp_file = p / "employer_month.parquet"
    out["treated_employers"] = out["workers_treated_employers"] = None
    if emp_file.exists():
        emp = pd.read_parquet(emp_file, columns=["employer_id", "period", "first_treat", "workers"])
        emp = emp[(emp["first_treat"] > 0) & (emp["period"] == emp["first_treat"] - 1)]
        n = int(emp["employer_id"].nunique())
        if n >= MIN_EMPLOYERS:
            out["treated_employers"] = n
            out["workers_treated_employers"] = float(emp["workers"].sum())
    return out


def _women_jobs(v: float, facts: dict) -> float | None:
    """Additional women's jobs per treated municipality implied by a log effect ``v``."""
    base = facts.get("women_jobs_per_treated_municipality")
    return None if base is None else (math.exp(v) - 1) * base


def decision_effect(h: dict, facts: dict) -> dict | None:
    """A headline effect (and its interval) in the units a decision is made in.

    Parameters
    ----------
    h : dict
        Headline record (``outcome``, ``estimate``, ``ci_low``, ``ci_high``).
    facts : dict
        :func:`exposure_facts` of the same panels.

    Returns
    -------
    dict or None
        ``{"key": unit message key, "value", "lo", "hi"}`` and, for women's jobs, ``per_centre`` and
        ``per_100_places`` triples; None when the outcome has no decision unit or a needed fact is missing.
    """
    y = h.get("outcome", "")
    b, lo, hi = h["estimate"], h["ci_low"], h["ci_high"]
    if y in _PER_100_YEAR:
        key = "decision.separations" if y == "separation_rate" else "decision.days"
        return {"key": key, "value": 1200 * b, "lo": 1200 * lo, "hi": 1200 * hi}
    if y.startswith("avg_wage"):
        return {"key": "decision.wage", "value": b, "lo": lo, "hi": hi}
    if y == "log_women_jobs":
        vals = [_women_jobs(v, facts) for v in (b, lo, hi)]
        if vals[0] is None:
            return None
        n_mun, n_c, places = (facts.get("treated_municipalities") or 0, facts.get("centres_opened") or 0,
                              facts.get("places_opened") or 0)
        out = {"key": "decision.women_jobs", "value": vals[0], "lo": vals[1], "hi": vals[2]}
        if n_mun and n_c:
            out["per_centre"] = [v * n_mun / n_c for v in vals]
        if n_mun and places:
            out["per_100_places"] = [v * n_mun / (places / 100) for v in vals]
        return out
    return None


def _ratio_interval(cost: float, effect: tuple[float, float, float]) -> tuple[float | None, ...]:
    """``cost / effect`` for an effect that is a gain when positive: the point value and the interval, with None
    where the effect's interval reaches zero or below (the cost per unit gained is then unbounded)."""
    b, lo, hi = effect
    point = cost / b if b > 0 else None
    # cost/x decreases in x: the interval of the ratio runs from cost/hi to cost/lo
    return point, (cost / hi if hi > 0 else None), (cost / lo if lo > 0 else None)


def costs(h: dict, facts: dict, assumptions: CostAssumptions | None = None) -> dict | None:
    """Costs and IMSS flows that a headline effect implies, a year, under ``assumptions``.

    Parameters
    ----------
    h : dict
        Headline record (``outcome``, ``estimate``, ``ci_low``, ``ci_high``).
    facts : dict
        :func:`exposure_facts` of the same panels.
    assumptions : CostAssumptions, optional
        Cost of a place and price update (defaults: :class:`CostAssumptions`).

    Returns
    -------
    dict or None
        For women's jobs: ``cost_per_woman`` (pesos a year per additional woman in formal work: point, low,
        high; None where unbounded) and ``guarderias_contributions`` (pesos a year the additional jobs pay to the
        guarderías branch); for general-illness days: ``cost_per_day_avoided`` and ``subsidy_saved`` (an upper
        bound). None for other outcomes or when a needed fact is missing.
    """
    a = assumptions or CostAssumptions()
    places = facts.get("places_opened") or 0
    if not places:
        return None
    annual = places * a.cost_per_place_year
    y = h.get("outcome", "")
    out: dict = {"annual_cost": annual, "assumptions": a.to_dict()}
    if y == "log_women_jobs":
        n_mun = facts.get("treated_municipalities") or 0
        per = [_women_jobs(v, facts) for v in (h["estimate"], h["ci_low"], h["ci_high"])]
        if per[0] is None or not n_mun:
            return None
        total = tuple(v * n_mun for v in per)
        out["additional_women"] = list(total)
        out["cost_per_woman"] = list(_ratio_interval(annual, total))
        wage = facts.get("women_daily_wage")
        if wage:
            out["guarderias_contributions"] = [v * wage * 365 * GUARDERIAS_RATE for v in total]
        return out
    if y == "eg_days_per_worker":
        workers = facts.get("workers_treated_employers")
        if not workers:
            return None
        avoided = tuple(-v * 12 * workers for v in (h["estimate"], h["ci_high"], h["ci_low"]))  # days a year
        out["days_avoided"] = list(avoided)
        out["cost_per_day_avoided"] = list(_ratio_interval(annual, avoided))
        wage = facts.get("women_daily_wage")
        if wage:
            out["subsidy_saved_at_most"] = [v * wage * INCAPACITY_SUBSIDY for v in avoided]
        return out
    return None
