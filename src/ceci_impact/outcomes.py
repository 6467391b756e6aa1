"""The outcome registry: every outcome the reports estimate, registered once.

An :class:`Outcome` says which panel holds it, its label, the estimation weights and the cluster variable (where
exposure is assigned: the municipality for municipality outcomes, the site whose opening sets the employer's cohort
for employer outcomes), the family (report) it belongs to and whether it is a headline of ``00_summary``. The
samples, the summary's outcome list, the notebooks' allowed outcomes and the labels are read from here; a new
outcome is its panel column (``panel_sql``), one entry below and, on simulated data, its potential-outcome formula
in :mod:`ceci_impact.truth`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Outcome:
    """One registered outcome."""

    name: str
    label: str
    panel: Literal["municipality", "employer"]
    family: Literal["women", "absenteeism", "retention"]
    weights: str | None = None
    cluster: str | None = None
    headline: bool = False


_MUN = dict(panel="municipality", cluster="cvegeo")
_EMP = dict(panel="employer", weights="size0", cluster="site_cluster")

OUTCOMES: dict[str, Outcome] = {o.name: o for o in [
    Outcome("log_women_jobs", "log women's insured jobs", family="women", headline=True, **_MUN),
    Outcome("women_jobs_per_1000", "women's insured jobs per 1,000 women aged 15–64", family="women", **_MUN),
    Outcome("female_share", "female share of insured jobs", family="women", **_MUN),
    Outcome("log_jobs", "log insured jobs", family="women", **_MUN),
    Outcome("eg_days_per_worker", "general-illness incapacity days per worker-month", family="absenteeism",
            headline=True, **_EMP),
    Outcome("share_any_incapacity", "share of workers with a general-illness incapacity in the month",
            family="absenteeism", **_EMP),
    Outcome("eg_days_per_eligible", "incapacity days per eligible parent-month", family="absenteeism", **_EMP),
    Outcome("separation_rate", "monthly separation rate", family="retention", headline=True, **_EMP),
]}

OUTCOME_LABELS = {k: o.label for k, o in OUTCOMES.items()}


def family(name: str) -> tuple[str, ...]:
    """The outcomes of one family, in registry order (the allowed values of a report's ``outcome``)."""
    return tuple(k for k, o in OUTCOMES.items() if o.family == name)


def headlines() -> list[Outcome]:
    """The headline outcomes of ``00_summary``, in registry order."""
    return [o for o in OUTCOMES.values() if o.headline]
