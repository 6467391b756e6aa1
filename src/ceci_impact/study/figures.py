"""Figures shared by the outcome reports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calendar import label
from ..data.outcomes import OUTCOME_LABELS


def raw_trends(df: pd.DataFrame, yname: str, ax=None, max_cohorts: int = 6):
    """Mean outcome by month for each cohort (largest ``max_cohorts``) and the never-exposed group.

    Parameters
    ----------
    df : pandas.DataFrame
        The estimation sample.
    yname : str
        Outcome column.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    max_cohorts : int
        Largest cohorts drawn.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    sizes = df.drop_duplicates("unit").groupby("first_treat").size().sort_values(ascending=False)
    cohorts = [g for g in sizes.index if g > 0][:max_cohorts]
    for g in [0.0, *sorted(cohorts)]:
        d = df[df.first_treat == g].groupby("period")[yname].mean()
        lab = "never exposed" if g == 0 else f"cohort {label(g)}"
        ax.plot(d.index, d.values, lw=2.2 if g == 0 else 1.2, color="black" if g == 0 else None, label=lab)
        if g > 0:
            ax.axvline(g, lw=0.6, ls=":", color=ax.lines[-1].get_color())
    ticks = sorted(df.period.unique())[:: max(1, len(df.period.unique()) // 8)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([label(t) for t in ticks], rotation=30, fontsize=8)
    ax.set_ylabel(OUTCOME_LABELS.get(yname, yname))
    ax.set_title("Raw trends by cohort (dotted line: opening month)")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    return ax

def agreement_plot(results: dict):
    """Estimator-agreement figure: each outcome's overall effect and interval by estimator (and truth).

    Parameters
    ----------
    results : dict
        Outcome to its :class:`ceci_impact.study.studies.EventStudy`.
    """
    import matplotlib.pyplot as plt

    n = len(results)
    ncols = min(n, 2)  # two panels a row: labels stay readable when the page scales the figure to its width
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.6 * ncols, 3.3 * nrows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, (y, es) in zip(axes[:n], results.items(), strict=True):
        c = es.comparison()
        ys = np.arange(len(c))[::-1]
        ax.errorbar(c.estimate, ys, xerr=[c.estimate - c.ci_low, c.ci_high - c.estimate], fmt="o", capsize=3)
        if "truth" in c and c.truth.notna().any():
            ax.scatter(c.truth, ys, marker="x", color="black", zorder=3, label="truth of each estimand (simulated)")
            ax.legend(frameon=False, fontsize=9, loc="lower right")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(ys)
        ax.set_yticklabels([e.replace(" (", "\n(") for e in c.estimator], fontsize=9)
        ax.set_title(OUTCOME_LABELS.get(y, y), fontsize=11)
    fig.tight_layout()
    return fig
