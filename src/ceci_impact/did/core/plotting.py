"""Event-study figures shared by every estimator's ``plot()``."""

from __future__ import annotations

import pandas as pd


def event_study_plot(tidy: pd.DataFrame, *, x: str = "event_time", ax=None, by: str | None = None,
                     title: str | None = None, label: str | None = None, color: str | None = None,
                     offset: float = 0.0):
    """Draw estimates with pointwise intervals (bars) and uniform bands (shaded) on ``ax``.

    Pre-treatment points are grey-blue, post-treatment points dark red; a zero line and a
    dashed line before the first treated period are added. Returns the axes.

    Parameters
    ----------
    tidy : pandas.DataFrame
        Estimates: ``att``, ``ci_low``, ``ci_high`` (and ``band_low``, ``band_high``) by ``x``.
    x : str
        Column of the horizontal axis.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    by : str, optional
        Column whose values are drawn as separate series (e.g. cohorts).
    title : str, optional
        Figure title.
    label : str, optional
        Legend label of the series.
    color : str, optional
        Colour of the post-treatment points.
    offset : float
        Horizontal shift of the points (several estimators on one axis).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    groups = [(None, tidy)] if by is None else list(tidy.groupby(by))
    nby = len(groups)
    for i, (key, d) in enumerate(groups):
        d = d.sort_values(x)
        xs = d[x].to_numpy(float) + offset + (0 if nby == 1 else (i - (nby - 1) / 2) * 0.08)
        post = d["post"].to_numpy(bool) if "post" in d else (d[x].to_numpy(float) >= 0)
        c_post = color or ("#9b1c1c" if by is None else None)
        if "band_low" in d and by is None:
            ax.fill_between(xs, d["band_low"], d["band_high"], color=color or "#1f4e79", alpha=0.15,
                            step=None, label=None if label else "uniform band")
        lab = label if label else (f"{by} {key:g}" if by is not None else None)
        err = [d["att"] - d["ci_low"], d["ci_high"] - d["att"]]
        if by is None and color is None:
            ax.errorbar(xs[~post], d["att"][~post], yerr=[e[~post] for e in err], fmt="o", color="#4a6fa5",
                        capsize=2, label="pre-treatment" if not label else None)
            ax.errorbar(xs[post], d["att"][post], yerr=[e[post] for e in err], fmt="o", color=c_post,
                        capsize=2, label="post-treatment" if not label else lab)
        else:
            ax.errorbar(xs, d["att"], yerr=err, fmt="o", capsize=2, color=color, label=lab)
    ax.axhline(0, color="black", lw=0.8)
    if x == "event_time":
        ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("periods relative to first exposure")
    else:
        ax.set_xlabel(x)
    ax.set_ylabel("ATT")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return ax
