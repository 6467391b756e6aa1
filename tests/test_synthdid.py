"""Synthetic DiD, synthetic control and DiD (``ceci_impact.did.synthdid``) against R ``synthdid`` 0.0.9.

Reference values
- tests/reference/california_prop99.csv (causalpy 0.9.0 wheel; tests/reference/PROVENANCE.md), California treated
  from 1989. R synthdid 0.0.9 point estimates: SDID -15.60383, SC -19.61966, DID -27.34911; placebo standard errors
  8.4, 9.9, 17.7 (Arkhangelsky et al. 2021, Table 1, made by the package's vignettes/paper-results.Rmd with 200
  placebo replications, ``set.seed(12345)``). Placebo SEs are random; ours are compared within Monte-Carlo error,
  measured from our own placebo replicates.
- Designs R's tests do not cover (several treated units, staggered cohorts, added effects, leave-one-out) are
  checked against identities that hold exactly: the block estimate written as ``[-omega, 1/N1]' Y [-lambda, 1/T1]``,
  a constant effect added to every treated post-period cell shifting every method by exactly that amount,
  unit order not mattering, the cohort combination by treated unit-periods and the closed-form jackknife against
  a brute-force loop.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ceci_impact import CeciError
from ceci_impact.did import synthdid
from ceci_impact.did.synthetic.synthdid_solver import fit_method

REF = Path(__file__).parent / "reference"
R_EST = {"sdid": -15.60383, "sc": -19.61966, "did": -27.34911}
R_PLACEBO_SE = {"sdid": 8.4, "sc": 9.9, "did": 17.7}


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    w = pd.read_csv(REF / "california_prop99.csv")
    long = w.melt(id_vars="Year", var_name="state", value_name="packs")
    long["g"] = np.where(long.state == "California", 1989, 0)
    return long


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_prop99_matches_R(prop99, method):
    r = synthdid(prop99, "packs", "Year", "state", "g", method=method, se="none")
    assert abs(r.estimate - R_EST[method]) < 1e-4


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_prop99_placebo_se_within_monte_carlo_error_of_R(prop99, method):
    r = synthdid(prop99, "packs", "Year", "state", "g", method=method, se="placebo", reps=200, seed=12345)
    rep = r.replicates
    assert rep.shape == (200,)
    assert r.se == pytest.approx(np.sqrt(199 / 200) * np.std(rep, ddof=1))
    # Monte-Carlo spread of a 200-replication placebo SE, from resampling our replicates
    rng = np.random.default_rng(0)
    mc = np.sqrt(199 / 200) * rep[rng.integers(0, 200, (4000, 200))].std(axis=1, ddof=1)
    assert abs(r.se - R_PLACEBO_SE[method]) <= 3 * mc.std() + 0.05, (r.se, mc.std())
    again = synthdid(prop99, "packs", "Year", "state", "g", method=method, se="placebo", reps=200, seed=12345)
    assert again.se == r.se


def _panel_with(prop99, treated, g=1989, effect=0.0):
    d = prop99.copy()
    d["g"] = np.where(d.state.isin(treated), g, 0)
    d.loc[d.state.isin(treated) & (d.Year >= g), "packs"] += effect
    return d


def test_block_design_formula_order_and_added_effect(prop99):
    treated = ["California", "Nevada", "Utah"]
    d = _panel_with(prop99, treated)
    w = d.pivot(index="state", columns="Year", values="packs")
    ctrl = [s for s in w.index if s not in treated]
    Y = np.vstack([w.loc[ctrl].to_numpy(), w.loc[treated].to_numpy()])
    T0 = int((w.columns < 1989).sum())
    for m in ("sdid", "sc", "did"):
        b = fit_method(m, Y, len(ctrl), T0)
        row = np.r_[-b.omega, np.full(3, 1 / 3)]
        col = np.r_[-b.lam, np.full(Y.shape[1] - T0, 1 / (Y.shape[1] - T0))]
        r = synthdid(d, "packs", "Year", "state", "g", method=m, se="none")
        assert r.estimate == pytest.approx(row @ Y @ col, abs=1e-9)
        shuffled = d.sample(frac=1.0, random_state=3)
        assert synthdid(shuffled, "packs", "Year", "state", "g", method=m, se="none").estimate == pytest.approx(
            r.estimate, abs=1e-8)
        shifted = synthdid(_panel_with(prop99, treated, effect=-7.5), "packs", "Year", "state", "g", method=m,
                           se="none")
        assert shifted.estimate == pytest.approx(r.estimate - 7.5, abs=1e-8)
        assert r.omega.weight.sum() == pytest.approx(1.0) and (r.omega.weight >= 0).all()


def test_staggered_cohorts_combined_by_treated_unit_periods(prop99):
    d = prop99.copy()
    d["g"] = np.select([d.state == "California", d.state.isin(["Nevada", "Utah"])], [1989, 1993], 0)
    r = synthdid(d, "packs", "Year", "state", "g", method="sdid", se="none")
    parts = []
    for g, states in ((1989, ["California"]), (1993, ["Nevada", "Utah"])):
        one = d[(d.g == 0) | d.state.isin(states)]
        parts.append((synthdid(one, "packs", "Year", "state", "g", se="none").estimate,
                      len(states) * (2000 - g + 1)))
    want = sum(e * w for e, w in parts) / sum(w for _, w in parts)
    assert r.estimate == pytest.approx(want, abs=1e-10)
    assert list(r.cohorts.n_treated) == [1, 2]
    assert r.cohorts.weight.sum() == pytest.approx(1.0)


def test_jackknife_closed_form_equals_leave_one_out_loop(prop99):
    d = _panel_with(prop99, ["California", "Nevada", "Utah"])
    r = synthdid(d, "packs", "Year", "state", "g", method="sdid", se="jackknife")
    w = d.pivot(index="state", columns="Year", values="packs")
    om = r.omega.set_index("unit").weight
    lam = r.lam.weight.to_numpy()
    treated = ["California", "Nevada", "Utah"]
    ctrl = list(om.index)
    T0 = lam.size
    u = []
    for leave in list(ctrl) + treated:
        c = [s for s in ctrl if s != leave]
        t = [s for s in treated if s != leave]
        o = om[c].to_numpy()
        o = o / o.sum() if o.sum() > 0 else np.full(len(c), 1 / len(c))
        Y = np.vstack([w.loc[c].to_numpy(), w.loc[t].to_numpy()])
        row = np.r_[-o, np.full(len(t), 1 / len(t))]
        col = np.r_[-lam, np.full(Y.shape[1] - T0, 1 / (Y.shape[1] - T0))]
        u.append(row @ Y @ col)
    u = np.array(u)
    n = u.size
    assert r.se == pytest.approx(np.sqrt((n - 1) / n * ((u - u.mean()) ** 2).sum()), rel=1e-10)


def test_bootstrap_reproducible_and_undefined_for_one_treated_unit(prop99):
    d = _panel_with(prop99, ["California", "Nevada", "Utah"])
    a = synthdid(d, "packs", "Year", "state", "g", method="did", se="bootstrap", reps=50, seed=7)
    b = synthdid(d, "packs", "Year", "state", "g", method="did", se="bootstrap", reps=50, seed=7)
    assert a.se == b.se and np.isfinite(a.se) and a.se > 0
    one = synthdid(prop99, "packs", "Year", "state", "g", method="did", se="bootstrap", reps=10, seed=1)
    assert np.isnan(one.se) and "one treated unit" in one.se_note


def test_conformal_inference(prop99):
    r = synthdid(prop99, "packs", "Year", "state", "g", method="sc", se="none")
    T = prop99.Year.nunique()
    c = r.conformal(theta0=0.0, alp=0.1)
    assert c["min_pvalue"] == pytest.approx(1 / T)
    assert (c["pvalue"] * T) == pytest.approx(round(c["pvalue"] * T))
    assert c["ci_low"] <= r.estimate <= c["ci_high"]
    big = synthdid(_panel_with(prop99, ["California"], effect=-80.0), "packs", "Year", "state", "g", method="sc",
                   se="none")
    assert big.conformal(theta0=0.0)["pvalue"] <= 2 / T
    # the null at the true effect of the shifted panel is the null at zero of the original one
    assert big.conformal(theta0=-80.0)["pvalue"] == pytest.approx(c["pvalue"], abs=1 / T)


def test_result_conventions(prop99):
    r = synthdid(prop99, "packs", "Year", "state", "g", method="sdid", se="placebo", reps=20, seed=1)
    json.dumps(r.to_dict())
    assert "synthetic difference-in-differences" in r._repr_html_()
    t = r.tidy()
    assert list(t.term) == ["cohort 1989", "overall"] and {"ci_low", "ci_high"} <= set(t.columns)
    assert set(r.trajectory.columns) >= {"treated", "synthetic", "gap", "post"}
    post_gap = r.trajectory.loc[r.trajectory.post, "gap"].mean()
    assert post_gap == pytest.approx(r.estimate, abs=1e-9)  # the estimate is the average post-period gap
    import matplotlib

    matplotlib.use("Agg")
    assert r.plot() is not None
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        r.estimate = 0.0  # frozen


@pytest.mark.parametrize("mutate, msg", [
    (lambda d: d.assign(g=np.where(d.state == "California", 1970, 0)), "before treatment"),
    (lambda d: d.assign(g=np.where(d.state == "California", 1971, 0)), "before treatment"),
    (lambda d: d[~((d.state == "California") & (d.Year == 1975))], "has no packs in period 1975"),
    (lambda d: d.assign(packs=np.where((d.state == "California") & (d.Year == 1980), np.nan, d.packs)),
     "has no packs"),
    (lambda d: d[d.state.isin(["California", "Alabama"])], "expected at least 2 donors"),
    (lambda d: d.assign(packs=5.0), "constant"),
    (lambda d: pd.concat([d, d.iloc[:1]]), "more than one row"),
    (lambda d: d.assign(g=np.where((d.state == "California") & (d.Year == 1970), 1990, d.g)), "varies within"),
    (lambda d: d.drop(columns="g"), "not in the data"),
])
def test_bad_input_one_line(prop99, mutate, msg):
    with pytest.raises(CeciError) as e:
        synthdid(mutate(prop99), "packs", "Year", "state", "g", se="none")
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_bad_options_and_placebo_needs_more_donors(prop99):
    with pytest.raises(CeciError, match="expected one of"):
        synthdid(prop99, "packs", "Year", "state", "g", method="lasso")
    d = _panel_with(prop99, list(prop99.state.unique()[:20]))
    with pytest.raises(CeciError, match="more comparison units than treated"):
        synthdid(d, "packs", "Year", "state", "g", se="placebo", reps=5)
