"""Evaluation design for the CECI roll-out: what a schedule can detect, which schedule detects more, and an
auditable randomised phase-in.

- :func:`mde_panel`, :func:`variance_components` — analytic minimum detectable effects for panel
  difference-in-differences with serially correlated errors (Burlig, Preonas & Woerman 2020), with the variance
  components estimated from a panel's own pre-period residuals.
- :func:`optimal_rollout` — T-optimal staggered schedules (Xiong, Athey, Bayati & Imbens 2024).
- :func:`assign_waves` — stratified randomisation of sites to opening waves, with a balance table and an assignment
  file that records the SHA-256 of its inputs and the seed.
"""

from .assignment import Assignment, assign_waves, parse_waves
from .mde import VarianceComponents, mde_panel, variance_components
from .needs import needs_assessment, needs_figure
from .power import simulate_power
from .rollout import optimal_rollout, rollout_precision, sites_per_wave

__all__ = ["mde_panel", "variance_components", "VarianceComponents", "optimal_rollout", "rollout_precision",
           "sites_per_wave", "assign_waves", "parse_waves", "Assignment", "simulate_power", "needs_assessment",
           "needs_figure"]
