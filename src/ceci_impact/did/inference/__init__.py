"""Small-cluster inference for the aggregated Callaway–Sant'Anna estimates (see docs/inference.md).

:mod:`.registry` lists the rules (CR2 with Bell–McCaffrey degrees of freedom, wild cluster bootstrap-t with the
null imposed, the analytic rules of R and the project's retired heuristics); :mod:`.pretest` the clustered
pre-test and the pre-trend it could detect.
"""

from .cr2 import bm_df, cr2_se, cr2_vcov
from .pretest import detectable_slope, wild_wald
from .registry import PRETEST_RULE, REPORT_RULE, RULES, InferenceRule, Rule, apply_rule, effective_clusters
from .scores import ClusterScores, cluster_scores
from .targets import simple_event_weights
from .wild import draw_weights, wild_ci, wild_test

__all__ = ["PRETEST_RULE", "REPORT_RULE", "RULES", "ClusterScores", "InferenceRule", "Rule", "apply_rule", "bm_df",
           "cluster_scores", "cr2_se", "cr2_vcov", "detectable_slope", "draw_weights", "effective_clusters", "simple_event_weights",
           "wild_ci", "wild_test", "wild_wald"]
