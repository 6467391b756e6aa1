"""The IMSS and Empresa schemes side by side: each scheme's headline effect and their difference, with intervals.

Each scheme's effect is the Callaway–Sant'Anna simple aggregation on the sample without the other scheme's
exposed units (its comparison units are the never- and not-yet-exposed units, as in the headline). The two
estimates share comparison units, so their difference is not the difference of two independent estimates: its
standard error comes from the difference of the two estimates' influence functions, aligned unit by unit over the
union of both samples (a unit that serves both as a comparison contributes to both), summed within clusters
(Callaway & Sant'Anna 2021, sec. 4: the aggregated parameters are asymptotically linear, so any linear combination
of them is too, with the same combination of influence functions).

The three rows (IMSS, Empresa, difference) share one variance: the sum of squared cluster sums of the influence
functions, with normal intervals — the clustered analytic variance of ``att_gt(..., small_cluster="none")``, which
each scheme's row reproduces exactly. It is named in the result (``attrs["inference"]``) and on the page, because
it is not the small-cluster rule of the headline when the report uses another one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .._options import CeciError
from ..did import att_gt

SCHEMES = ("IMSS", "Empresa")
INFERENCE = "cluster-robust influence-function variance (sum of squared cluster sums), normal intervals"


def _balanced(df: pd.DataFrame, yname: str, idname: str, tname: str) -> pd.DataFrame:
    """Units observed, with the outcome, in every period (what ``att_gt`` keeps of an unbalanced panel)."""
    d = df.dropna(subset=[yname])
    n_t = d[tname].nunique()
    full = d.groupby(idname)[tname].transform("nunique") == n_t
    return d[full]


def _psi(d: pd.DataFrame, *, yname: str, tname: str, idname: str, gname: str, **kw) -> tuple[float, pd.Series]:
    """Simple-aggregation estimate and its influence function per unit scaled so that the variance is the sum of
    squares (``inf / n``), indexed by unit id. The unit of each influence-function row is read back by giving
    ``att_gt`` the unit id as its cluster variable (one unit per cluster: the estimate and the influence function
    do not change)."""
    d = d.assign(_unit_cluster=d[idname].to_numpy())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = att_gt(d, yname=yname, tname=tname, idname=idname, gname=gname, bstrap=False,
                   clustervars="_unit_cluster", **kw)
        a = r.aggte("simple", na_rm=True)
    for w in caught:  # surfaced, never swallowed
        warnings.warn(f"scheme comparison: {w.message}", stacklevel=3)
    inf = np.asarray(a.inf_overall, float)
    ids = np.asarray(a.cluster)
    if ids is None or inf.size != ids.size or pd.Index(ids).has_duplicates:
        raise CeciError("scheme comparison: the influence function could not be matched to units")
    return float(a.overall_att), pd.Series(inf / inf.size, index=ids)


def scheme_comparison(df: pd.DataFrame, yname: str, scheme: pd.Series, *, tname: str = "period",
                      idname: str = "unit", gname: str = "first_treat", clustervars: str | None = None,
                      weightsname: str | None = None, xformla: str | None = None,
                      control_group: str = "notyettreated", est_method: str = "reg",
                      alpha: float = 0.05) -> pd.DataFrame:
    """IMSS against Empresa: each scheme's effect and the difference (module docstring).

    Parameters
    ----------
    df : pandas.DataFrame
        The headline estimation sample (unit × period).
    yname, tname, idname, gname : str
        Outcome, period, unit and cohort columns (R ``did`` names).
    scheme : pandas.Series
        The scheme (``"IMSS"`` or ``"Empresa"``) of each exposed unit, indexed by ``idname``.
    clustervars : str, optional
        Cluster column (time-invariant); default: the unit.
    weightsname : str, optional
        Sampling weights.
    xformla : str, optional
        Covariate formula, as in the headline.
    control_group : {"notyettreated", "nevertreated"}
        Comparison units.
    est_method : {"reg", "dr", "ipw"}
        The 2x2 estimator.
    alpha : float
        One minus the intervals' level.

    Returns
    -------
    pandas.DataFrame
        Rows ``IMSS``, ``Empresa``, ``difference`` with ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p``,
        ``n_treated``; ``attrs["inference"]`` names the variance.
    """
    d0 = _balanced(df, yname, idname, tname)
    unit_scheme = d0[idname].map(scheme)
    exposed = d0[gname] > 0
    unknown = exposed & ~unit_scheme.isin(SCHEMES)
    if unknown.any():
        raise CeciError(f"scheme comparison: {d0.loc[unknown, idname].nunique()} exposed units have no scheme; "
                        f"expected one of {', '.join(SCHEMES)}")
    kw = dict(yname=yname, tname=tname, idname=idname, gname=gname, xformla=xformla, control_group=control_group,
              est_method=est_method, weightsname=weightsname, alp=alpha)
    est, psi, n_treated = {}, {}, {}
    for s in SCHEMES:
        keep = ~exposed | (unit_scheme == s)
        n_treated[s] = int(d0.loc[exposed & keep, idname].nunique())
        if n_treated[s] == 0:
            raise CeciError(f"scheme comparison: no exposed unit of the {s} scheme in the sample")
        est[s], psi[s] = _psi(d0[keep], **kw)
    units = pd.Index(pd.unique(d0[idname]))
    cl_of = (d0.drop_duplicates(idname).set_index(idname)[clustervars] if clustervars else
             pd.Series(units, index=units)).reindex(units)
    codes = pd.factorize(cl_of)[0]
    g = codes.max() + 1
    rows = []
    vec = {s: psi[s].reindex(units, fill_value=0.0).to_numpy() for s in SCHEMES}
    vec["difference"] = vec["IMSS"] - vec["Empresa"]
    est["difference"] = est["IMSS"] - est["Empresa"]
    z = stats.norm.ppf(1 - alpha / 2)
    for k in (*SCHEMES, "difference"):
        sums = np.bincount(codes, weights=vec[k], minlength=g)
        se = float(np.sqrt(np.sum(sums ** 2)))
        rows.append({"row": k, "estimate": est[k], "se": se, "ci_low": est[k] - z * se, "ci_high": est[k] + z * se,
                     "p": float(2 * stats.norm.sf(abs(est[k]) / se)) if se > 0 else np.nan,
                     "n_treated": n_treated.get(k, n_treated["IMSS"] + n_treated["Empresa"])})
    out = pd.DataFrame(rows).set_index("row")
    out.attrs["inference"] = INFERENCE
    out.attrs["clusters"] = int(g)
    return out


def unit_schemes(df: pd.DataFrame, processed, *, idname: str = "unit") -> pd.Series:
    """The scheme of each exposed unit of a headline sample: the scheme of the site whose opening sets an
    employer's cohort (``cohort_site``), or of a municipality's first opening (``first_treat_imss`` /
    ``first_treat_empresa``; a municipality whose first IMSS and Empresa openings fall in the same month is left
    without a scheme and should be dropped).

    Parameters
    ----------
    df : pandas.DataFrame
        The estimation sample.
    processed : str or Path
        Folder of built panels (for ``sites.parquet``).
    idname : str
        Unit column.
    """
    from pathlib import Path

    first = df.drop_duplicates(idname).set_index(idname)
    if "cohort_site" in first:
        sites = pd.read_parquet(Path(processed) / "sites.parquet", columns=["site_id", "scheme"])
        return first["cohort_site"].map(sites.set_index("site_id")["scheme"]).dropna()
    imss, emp = first["first_treat_imss"], first["first_treat_empresa"]
    s = pd.Series(np.where((imss > 0) & ((emp == 0) | (imss < emp)), "IMSS",
                           np.where((emp > 0) & ((imss == 0) | (emp < imss)), "Empresa", "")), index=first.index)
    return s[s != ""]


def scheme_table(rows: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One publication table of several outcomes' scheme comparisons, with row labels (outcome and row).

    Parameters
    ----------
    rows : dict
        Outcome label → :func:`scheme_comparison` result.
    """
    from ..i18n import tr

    names = {"IMSS": "IMSS scheme", "Empresa": "Empresa scheme", "difference": "IMSS − Empresa"}
    out = []
    for label, t in rows.items():
        for k, r in t.iterrows():
            out.append({"outcome": tr(label), "scheme": tr(names[k]), "effect": r["estimate"],
                        "lower bound": r["ci_low"], "upper bound": r["ci_high"], "p-value": r["p"],
                        "exposed units": int(r["n_treated"])})
    return pd.DataFrame(out)
