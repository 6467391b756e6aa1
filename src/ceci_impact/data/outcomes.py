"""The outcome registry: every outcome the reports estimate, registered once.

An :class:`Outcome` says which panel holds it (and so its unit and the unit key of the simulator's potential
outcomes), its label, the estimation weights and the cluster variable (where exposure is assigned: the
municipality for municipality outcomes, the site whose opening sets the employer's cohort for employer outcomes),
the family (report) it belongs to, whether it is a headline of ``00_summary`` and, for simulated worlds, its
potential-outcome formula ``truth(components, k)``: the outcome in world ``k`` (``"1"`` with CECI, ``"0"``
without) from the components the simulator records (``truth_mun_month.parquet``, ``truth_employer_month.parquet``).
The samples, the summary's outcome list, the notebooks' allowed outcomes, the labels and the truths
(:mod:`ceci_impact.data.truth`) are read from here; a new outcome is its panel column (``panel_sql``) and one entry
below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Family = Literal["women", "absenteeism", "retention", "productivity", "work_risks"]
Formula = Callable[[pd.DataFrame, str], pd.Series]


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return num.where(den > 0) / den.where(den > 0)


def _per_worker(component: str) -> Formula:
    return lambda c, k: _ratio(c[f"{component}_{k}"], c[f"workers_{k}"])


def _separation_rate(c: pd.DataFrame, k: str) -> pd.Series:
    return _ratio(c[f"separations_{k}"], c.groupby("employer_id")[f"workers_{k}"].shift(1))


def _log_women_jobs(c: pd.DataFrame, k: str) -> pd.Series:
    return np.log(c[f"women_jobs_{k}"].where(c[f"women_jobs_{k}"] > 0))


def _avg_wage(sex: str) -> Formula:
    return lambda c, k: _ratio(c[f"wage_mass_{sex}_{k}"], c[f"{sex}_jobs_{k}"])


@dataclass(frozen=True)
class Outcome:
    """One registered outcome.

    Attributes
    ----------
    name : str
        Registry key: the panel column the outcome is.
    label : str
        Its label in reports (translated through the glossary).
    panel : {'municipality', 'employer'}
        The panel that holds it.
    family : str
        The report family it belongs to (the allowed values of a report's ``outcome``).
    weights : str, optional
        Weight column of its estimates (e.g. first-month workforce).
    cluster : str, optional
        Cluster variable of its standard errors (where exposure is assigned).
    headline : bool
        Whether the index and the summary show it as a headline.
    truth : Formula, optional
        How y(0) and y(1) are formed from the simulator's components (None: no recorded potential outcomes).
    unit_note : str
        The unit of the number, for sentences (e.g. "pesos a day").
    note : str
        What the outcome measures and, on simulated data, what the simulated world assumes.
    """

    name: str
    label: str
    panel: Literal["municipality", "employer"]
    family: Family
    weights: str | None = None
    cluster: str | None = None
    headline: bool = False
    truth: Formula | None = None  # y(k) from the simulator's components; None: no recorded potential outcomes
    unit_note: str = ""  # the unit of the number, for sentences (e.g. "pesos a day")
    note: str = ""  # what the outcome measures and, on simulated data, what the simulated world assumes

    @property
    def truth_file(self) -> str:
        """The simulator's file of both worlds' components for this outcome's panel."""
        return "truth_mun_month.parquet" if self.panel == "municipality" else "truth_employer_month.parquet"

    @property
    def unit_key(self) -> str:
        """The unit key of the panel (and of the potential outcomes)."""
        return "cvegeo" if self.panel == "municipality" else "employer_id"


_WAGE_NOTE = (
    "Productivity, proxied by the average daily wage of insured jobs: the wage mass divided by salaried jobs "
    "(from the IMSS open data, platform workers excluded), by municipality and month. The "
    "simulated world gives CECI no effect on anyone's wage: each job's wage is the same with or without a CECI (it "
    "moves with sector and local wage shocks alike in both worlds), so the true effect is only the change in who "
    "holds a job (hires that a CECI brings, spells it lengthens) — close to zero. Municipalities are weighted by "
    "their jobs in the first month (the estimate is the effect on the average wage of a job, not of a "
    "municipality: unweighted, a municipality with a handful of jobs weighs as much as a city, and the few wages "
    "behind its average make its influence heavy-tailed).")
_RT_NOTE = (
    "Work risks: days of incapacity certificates of the riesgo de trabajo branch (accidents and occupational "
    "illness) per worker-month, by employer and month. The simulated world gives CECI no effect on work risks: the "
    "true effect is only the change in who is employed (the certificates of hires a CECI brings and of spells it "
    "lengthens, and the larger workforce) — close to zero.")
_MUN = dict(panel="municipality", cluster="cvegeo")
_EMP = dict(panel="employer", weights="size0", cluster="site_cluster")

OUTCOMES: dict[str, Outcome] = {o.name: o for o in [
    Outcome("log_women_jobs", "log women's insured jobs", family="women", headline=True, truth=_log_women_jobs, **_MUN),
    Outcome("women_jobs_per_1000", "women's insured jobs per 1,000 women aged 15–64", family="women", **_MUN),
    Outcome("female_share", "female share of insured jobs", family="women", **_MUN),
    Outcome("log_jobs", "log insured jobs", family="women", **_MUN),
    Outcome("eg_days_per_worker", "general-illness incapacity days per worker-month", family="absenteeism",
            headline=True, truth=_per_worker("eg_days"), unit_note="days", **_EMP),
    Outcome("share_any_incapacity", "share of workers with a general-illness incapacity in the month",
            family="absenteeism", **_EMP),
    Outcome("eg_days_per_eligible", "incapacity days per eligible parent-month", family="absenteeism", **_EMP),
    Outcome("separation_rate", "monthly separation rate", family="retention", headline=True, truth=_separation_rate,
            **_EMP),
    Outcome("avg_wage_women", "women's average daily wage (MXN)", family="productivity",
            headline=True, truth=_avg_wage("women"), unit_note="pesos a day", note=_WAGE_NOTE,
            weights="women_jobs0", **_MUN),
    Outcome("avg_wage_men", "men's average daily wage (MXN)", family="productivity",
            truth=_avg_wage("men"), unit_note="pesos a day", note=_WAGE_NOTE, weights="men_jobs0", **_MUN),
    Outcome("rt_days_per_worker", "work-risk incapacity days per worker-month", family="work_risks", headline=True,
            truth=_per_worker("rt_days"), unit_note="days", note=_RT_NOTE, **_EMP),
]}

OUTCOME_LABELS = {k: o.label for k, o in OUTCOMES.items()}


def family(name: str) -> tuple[str, ...]:
    """The outcomes of one family, in registry order (the allowed values of a report's ``outcome``).

    Parameters
    ----------
    name : str
        The family's name.
    """
    return tuple(k for k, o in OUTCOMES.items() if o.family == name)


def headlines() -> list[Outcome]:
    """The headline outcomes of ``00_summary``, in registry order."""
    return [o for o in OUTCOMES.values() if o.headline]
