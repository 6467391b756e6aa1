"""Analysis steps shared by the notebooks (one import for them: ``from ceci_impact.study import analysis as A``).

The steps live in modules named for what they hold; this module gathers them:

- :mod:`ceci_impact.confidentiality`: small cells and the numbers that would reveal them;
- :mod:`ceci_impact.study.samples`: the municipality and employer estimation samples;
- :mod:`ceci_impact.study.studies`: event studies of one outcome, comparisons, robustness, sensitivity;
- :mod:`ceci_impact.study.retention`: survival of job spells, Kaplan–Meier, Cox, retention of new hires;
- :mod:`ceci_impact.study.sites`: one CECI site, its employers, local event study and density map;
- :mod:`ceci_impact.study.narrative`: verdicts and sentences, sidecars, the simulated-data banner;
- :mod:`ceci_impact.study.figures`: figures shared by the outcome reports;
- :mod:`ceci_impact.study.diagnostics`: propensity-score overlap and the choice of specification;
- :mod:`ceci_impact.study.verdict`, :mod:`ceci_impact.study.economics`: three-state verdicts, decision units, costs;
- :mod:`ceci_impact.data.outcomes`: outcome labels.
"""

from __future__ import annotations

from ..calendar import label  # noqa: F401
from ..confidentiality import MIN_CELL, count_text, publishable, suppress_small  # noqa: F401
from ..data.outcomes import OUTCOME_LABELS, OUTCOMES  # noqa: F401
from ..data.panels import load, manifest  # noqa: F401
from ..design.expansion import where_map, where_table, where_to_open  # noqa: F401
from ..i18n import fmt_month, fmt_number, month_text, msg, tr  # noqa: F401
from .diagnostics import balance_table, choose_specification, propensity_overlap  # noqa: F401
from .economics import CostAssumptions, costs, decision_effect, exposure_facts  # noqa: F401
from .figures import agreement_plot, raw_trends  # noqa: F401
from .narrative import (  # noqa: F401
    MONTE_CARLO,
    bullets,
    coverage_note,
    honest_verdict,
    join_labels,
    join_text,
    labelled,
    monte_carlo_note,
    outcome_intro,
    poisson_sentence,
    pole_title,
    real_data_banner,
    record,
    robustness_summary,
    robustness_verdict,
    simulated_banner,
    site_title,
    variant_line,
)
from .retention import cox_time_varying, hire_retention, kaplan_meier, survival_frame  # noqa: F401
from .samples import employer_sample, municipality_sample, outcome_sample, sample_counts  # noqa: F401
from .schemes import INFERENCE as SCHEME_INFERENCE  # noqa: F401
from .schemes import scheme_comparison, scheme_table, unit_schemes  # noqa: F401
from .site_ranking import rank_sites, ranking_figure, ranking_table, site_estimates  # noqa: F401
from .sites import employer_density_map, site_employers, site_event_study, site_facts, site_profile  # noqa: F401
from .studies import (  # noqa: F401
    EventStudy,
    _cell_counts,
    _truths,
    all_outcomes,
    event_study,
    headline_samples,
    honest_sensitivity,
    poisson_counts,
    robustness,
    summary_table,
    triple_difference,
)
from .verdict import headline_verdict, minimum_detectable_effect, verdict  # noqa: F401
