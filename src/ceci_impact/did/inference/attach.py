"""Attach the registry's rule to an aggregation result (called by ``aggte`` once per aggregation)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import apply_rule


def with_rule(out: Any, res: Any, W: np.ndarray | None) -> Any:
    """``out`` (an ``AggteResult``) with its source for the clustered pre-test and, when ``res`` is clustered and
    its ``small_cluster`` rule is one the registry computes, that rule's standard errors and intervals.

    Parameters
    ----------
    out
        The aggregation result.
    res
        The ``AttGtResult`` it came from.
    W
        Cell weights of the profile columns then the overall column (cells x m).

    Returns
    -------
    AggteResult
    """
    if W is None:
        return out
    W = np.asarray(W, float).reshape(res.att.size, -1)
    changes: dict = {"source": (res, W)}
    if res.cluster is None:
        return _set(out, changes)
    p = res.params
    from .registry import RULES

    rule = p.get("small_cluster", "none")
    if rule in ("ri", "ri_timing") or RULES[rule].compute is not None:  # the rules aggte applies itself need no pass here
        infs = out.inf_overall[:, None] if out.inf_egt is None else np.column_stack([out.inf_egt, out.inf_overall])
        est = np.r_[[] if out.att_egt is None else out.att_egt, out.overall_att]
        se0 = np.r_[[] if out.se_egt is None else out.se_egt, out.overall_se]
        ok = np.isfinite(est) & np.all(np.isfinite(infs), axis=0) & np.isfinite(se0)  # NaN SE: degenerate (base)
        inf = apply_rule(rule, res, np.where(ok, infs, 0.0), W, np.where(ok, est, 0.0),
                         out.alp, p.get("biters", 999), p.get("seed"))
        if inf is not None:
            for key in ("se", "ci_low", "ci_high", "pvalue", "df"):
                if inf.get(key) is not None:
                    inf[key] = np.where(ok, np.asarray(inf[key], float), np.nan)
            from .registry import effective_clusters

            gs = effective_clusters(res, W)  # Carter-Schnepel-Steigerwald G*: a diagnostic, never a df rule
            inf["gstar"] = None if gs is None else np.asarray(gs, float)
            changes["inference"] = inf
            changes["overall_se"] = float(inf["se"][-1])
            if out.se_egt is not None:
                changes["se_egt"] = np.asarray(inf["se"][:-1], float)
    return _set(out, changes)


def _set(out: Any, changes: dict) -> Any:
    """Set fields of the freshly built (not yet shared) frozen result in place: a copy through
    ``dataclasses.replace`` would read, and so form, the lazily built influence functions."""
    for k, v in changes.items():
        object.__setattr__(out, k, v)
    return out


def clustered_pretest(agg: Any, pre: np.ndarray, *, biters: int = 999, seed: int = 2026) -> dict:
    """The clustered pre-test of an event study (``AggteResult.pretest("wald")`` with a cluster variable): under
    randomisation inference (rule ``"ri"`` or ``"ri_timing"`` applied) the permutation Wald test of :func:`.refit.permutation_wald`;
    otherwise the wild cluster bootstrap Wald test (unrestricted scores, Webb weights) of the pre-period coefficients and the
    linear pre-trend per period it detects with 80 % power (:mod:`.pretest`). The restricted version rejected
    none of 100 null worlds per development design (benchmarks/cluster_inference.py, seeds 1000–1099: far below
    its level, as MacKinnon & Webb 2018 find for the restricted bootstrap with few treated clusters), the
    unrestricted one 5–9 %.

    Parameters
    ----------
    agg
        The dynamic aggregation (clustered, with its source).
    pre
        Positions of the pre-period event times in ``agg.egt``.
    biters
        Bootstrap draws.
    seed
        Seed of the draws.

    Returns
    -------
    dict
        ``W``, ``df``, ``pvalue``, ``method`` (``"ri_wald"`` or ``"wild_wald_unrestricted"``), ``slope80``.
    """
    from .pretest import detectable_slope, wild_wald
    from .scores import cluster_scores

    res, W = agg.source
    ri = (getattr(agg, "inference", None) or {}).get("ri")
    if ri is not None:  # the event study is under randomisation inference: its pre-test too (.refit)
        from .refit import permutation_wald

        out = permutation_wald(ri, pre, agg.egt[pre], agg.params.get("base_period", "varying"))
        if out is not None:
            return out
    cs = cluster_scores(res, agg.inf_egt[:, pre], W[:, pre], agg.att_egt[pre])
    out = wild_wald(cs, biters=biters, seed=seed, restricted=False)
    out["slope80"] = detectable_slope(cs, agg.egt[pre], agg.params.get("base_period", "varying"), alp=0.05)
    return out
