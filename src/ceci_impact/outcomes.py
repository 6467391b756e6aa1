"""The outcomes the reports estimate and their labels."""

from __future__ import annotations

OUTCOME_LABELS = {
    "log_women_jobs": "log women's insured jobs",
    "women_jobs_per_1000": "women's insured jobs per 1,000 women aged 15–64",
    "female_share": "female share of insured jobs",
    "log_jobs": "log insured jobs",
    "eg_days_per_worker": "general-illness incapacity days per worker-month",
    "share_any_incapacity": "share of workers with a general-illness incapacity in the month",
    "eg_days_per_eligible": "incapacity days per eligible parent-month",
    "separation_rate": "monthly separation rate",
}
