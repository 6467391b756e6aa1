"""The fast paths of the aggregation and of the regression estimators against the explicit computations.

``aggte`` forms its standard errors, cluster sums and bootstrap draws from the sums ``att_gt`` accumulated and
from the cohorts' statistics (:mod:`ceci_impact.did.cs.combination`); here each is recomputed from the explicit
units x columns influence functions (``inf_egt`` / ``inf_overall``, formed on first access) with the textbook
formulas and the same Mammen weights. The TWFE regressions (static and event study) go through the exact two-way
solver with the indicators as codes; here they are compared with ``within_ols`` on the explicit dense design, on
balanced, unbalanced and shuffled panels. Tolerance 1e-10 (relative)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ceci_impact.did import att_gt, did_imputation, twfe
from ceci_impact.did.core.bootstrap import cluster_sums, mboot
from ceci_impact.did.regression.fixed_effects import within_ols

TOL = 1e-10
BOOT_TOL = 1e-4  # bootstrap sums in float32 products (ceci_impact.did.core.mammen): about 1e-6, at worst 1e-5, relative


def _panel(n=700, T=12, seed=0):
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(n) < 0.65, rng.choice([4, 7, 9], n), 0)
    x = rng.normal(size=n)
    t = np.tile(np.arange(1, T + 1), n)
    gg = np.repeat(g, T)
    y = (np.repeat(rng.normal(size=n) * 2 + 0.5 * x, T) + 0.05 * t * np.repeat(x, T)
         + np.where((gg > 0) & (t >= gg), 0.3 + 0.05 * (t - gg), 0.0) + rng.normal(size=n * T))
    return pd.DataFrame({"id": np.repeat(np.arange(n) * 3 + 1, T), "t": t, "g": gg, "x": np.repeat(x, T), "y": y,
                         "cl": np.repeat(np.arange(n) % 29, T), "w": np.repeat(1 + (np.arange(n) % 3) / 2, T),
                         "xt": np.repeat(x, T) + rng.normal(size=n * T)})


def _close(a, b, rtol=TOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    m = ~np.isnan(a)
    np.testing.assert_allclose(a[m], b[m], rtol=rtol, atol=1e-14)


AGG = [("dynamic", {}), ("group", {}), ("calendar", {}), ("simple", {}),
       ("dynamic", {"balance_e": 2, "min_e": -3, "max_e": 3})]
FITS = [dict(xformla=None), dict(xformla="~ x"), dict(xformla=None, clustervars="cl", weightsname="w"),
        dict(xformla="~ x", clustervars="cl"), dict(xformla=None, control_group="notyettreated"),
        dict(xformla="~ x", control_group="notyettreated", base_period="universal", weightsname="w")]


@pytest.mark.parametrize("kw", FITS, ids=[str(i) for i in range(len(FITS))])
@pytest.mark.parametrize("boot", [False, True], ids=["analytic", "bootstrap"])
def test_aggregation_from_factors_equals_explicit(kw, boot):
    df = _panel(seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = att_gt(df, yname="y", tname="t", idname="id", gname="g", bstrap=boot, cband=boot, biters=199, seed=5,
                   **kw)
    n = r.n
    for typ, extra in AGG:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = r.aggte(typ, **extra)
        assert "_inf_egt_value" in a.__dict__ and callable(a.__dict__["_inf_overall_value"])  # not formed yet
        inf = a.inf_overall[:, None] if a.egt is None else np.column_stack([a.inf_egt, a.inf_overall])
        assert not callable(a.__dict__["_inf_overall_value"])  # formed on first access and kept
        se = np.concatenate([[] if a.egt is None else a.se_egt, [a.overall_se]])
        if boot:
            ref = mboot(inf, biters=199, alp=0.05, rng=np.random.default_rng(5), cluster=r.cluster,
                        band_cols=None if a.egt is None else a.egt.size)
            ref_se = ref.se
            if a.egt is not None and a.cband:
                assert a.crit_val == pytest.approx(ref.crit_val, rel=BOOT_TOL)
        elif r.cluster is not None:
            ref_se = np.sqrt((cluster_sums(inf, r.cluster) ** 2).sum(axis=0)) / n
        else:
            ref_se = np.sqrt((inf**2).sum(axis=0) / n / n)
        ref_se = np.where(ref_se > np.sqrt(np.finfo(float).eps) * 10, ref_se, np.nan)
        _close(se, ref_se, BOOT_TOL if boot else TOL)


def test_aggregation_draws_other_than_the_estimation():
    """Draws the estimation did not make (other ``biters``, or a bootstrap after analytic estimation) come from
    the explicit influence functions block by block: the same as mboot on them."""
    df = _panel(seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = att_gt(df, yname="y", tname="t", idname="id", gname="g", xformla="~ x", bstrap=False, cband=False,
                   seed=9)
        a = r.aggte("dynamic", bstrap=True, cband=True, biters=149)
    inf = np.column_stack([a.inf_egt, a.inf_overall])
    ref = mboot(inf, biters=149, alp=0.05, rng=np.random.default_rng(9), band_cols=a.egt.size)
    _close(np.r_[a.se_egt, a.overall_se], ref.se, BOOT_TOL)
    assert a.crit_val == pytest.approx(ref.crit_val, rel=BOOT_TOL)


def _dense_twfe(df, type, **kw):
    """The previous computation: the explicit rows x regressors design through ``within_ols``."""
    g = df.g.to_numpy(float)
    t = df.t.to_numpy(float)
    if type == "static":
        X = ((t >= g) & (g > 0)).astype(float)[:, None]
    else:
        rel = np.where(g > 0, t - g, np.nan)
        if "min_e" in kw:
            rel = np.where(rel < kw["min_e"], kw["min_e"], rel)
            rel = np.where(rel > kw["max_e"], kw["max_e"], rel)
        levels = [e for e in np.unique(rel[~np.isnan(rel)]) if e != -1]
        X = np.column_stack([(rel == e).astype(float) for e in levels])
    if kw.get("xformla"):
        X = np.column_stack([X, df.xt.to_numpy()])
    cl = df[kw.get("clustervars", "id")].to_numpy()
    return within_ols(df.y.to_numpy(float), X, pd.factorize(df.id)[0], pd.factorize(df.t)[0], cl)


@pytest.mark.parametrize("layout", ["balanced", "unbalanced", "shuffled"])
@pytest.mark.parametrize("type", ["static", "event_study"])
@pytest.mark.parametrize("kw", [{}, {"clustervars": "cl"}, {"min_e": -3, "max_e": 3}, {"xformla": "~ xt"}],
                         ids=["unit", "cluster", "binned", "covariate"])
def test_twfe_solver_equals_dense_design(layout, type, kw):
    df = _panel(n=400, seed=7)
    if layout == "unbalanced":
        df = df[np.random.default_rng(1).random(len(df)) > 0.2]
    elif layout == "shuffled":
        df = df.sample(frac=1.0, random_state=2)
    if type == "static" and "min_e" in kw:
        return
    res = twfe(df, yname="y", tname="t", idname="id", gname="g", type=type, **kw)
    beta, V, keep = _dense_twfe(df, type, **kw)
    _close(res.coef.to_numpy(), beta)
    _close(res.vcov.to_numpy(), V)


def test_imputation_unit_clusters_equal_explicit_clusters():
    """The default clusters (units, read through the solver's structure) give what naming the unit column does."""
    df = _panel(n=500, seed=3)
    a = did_imputation(df, yname="y", tname="t", idname="id", gname="g")
    b = did_imputation(df.assign(unit=df.id.astype(str)), yname="y", tname="t", idname="id", gname="g",
                       clustervars="unit")
    _close(a.table[["att", "se"]].to_numpy(), b.table[["att", "se"]].to_numpy())
    _close(a.vcov.to_numpy(), b.vcov.to_numpy())
    assert a.extra["pretest"]["W"] == pytest.approx(b.extra["pretest"]["W"], rel=TOL)
