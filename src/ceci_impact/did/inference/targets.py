"""The headline's estimand as a combination of event-time effects (HonestDiD's ``l_vec``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def simple_event_weights(agg: Any) -> tuple[dict, float]:
    """Weights of the post-treatment event times that make the event-time effects of ``agg`` (a dynamic
    aggregation) average to the simple aggregation ``aggte("simple")`` of the same ``att_gt`` result.

    ``aggte("simple")`` averages the post-treatment cells ATT(g,t) with weights proportional to cohort size
    ``p_g``; ``aggte("dynamic")`` averages the cells of event time ``e`` with the same ``p_g``. So the simple
    aggregation is ``sum_e w_e theta(e)`` with ``w_e = sum_{g: cell (g, g+e) post} p_g / sum_{post cells} p_g``.
    Event times outside the event study's window carry the rest of the weight; the returned weights are
    renormalised over the window and the share they cover is returned, so a caller can say what is bounded.

    Parameters
    ----------
    agg
        ``AggteResult`` of type ``"dynamic"`` with its source (any result of ``aggte`` since this module).

    Returns
    -------
    tuple
        ``({event_time: weight}, covered)``: the weights (summing to 1) and the share of the headline's weight on
        the event times of the window (1.0 when the window holds every post-treatment event time).
    """
    res = agg.source[0] if agg.source is not None else None
    if res is None:
        raise ValueError("simple_event_weights needs a clustered aggregation with its source")
    glist = np.unique(res.group)
    pg = {g: float(np.mean(res.unit_weights * (res.unit_group == g))) for g in glist}
    post = (res.t >= res.group) & np.isfinite(res.att)
    e_cell = (res.t - res.group)[post]
    w_cell = np.array([pg[g] for g in res.group[post]])
    tot = w_cell.sum()
    ev = np.asarray(agg.egt, float)
    window = ev[ev >= 0]
    w = {float(e): float(w_cell[e_cell == e].sum() / tot) for e in window}
    covered = float(sum(w.values()))
    return ({e: v / covered for e, v in w.items()} if covered > 0 else w), covered
