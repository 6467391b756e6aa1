"""Evaluation design (``ceci_impact.design``): MDE formula, variance components, optimal and randomised roll-outs.

The MDE is checked against eq. 2 of Burlig, Preonas & Woerman (2020) computed by hand here (with Student-t
quantiles), its McKenzie (2012) special case, and a Monte Carlo of the DiD t-test on panels generated under the
formula's own assumptions (AR(1) errors whose covariances are known in closed form).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ceci_impact import CeciError
from ceci_impact.design import (
    assign_waves,
    mde_panel,
    optimal_rollout,
    parse_waves,
    rollout_precision,
    variance_components,
)
from ceci_impact.design.mde import power_of


def _bpw(J, P, m, r, s2, pb, pa, px, alpha, power, df):
    var = ((m + r) / (m * r) * s2 + (m - 1) / m * pb + (r - 1) / r * pa - 2 * px) / (P * (1 - P) * J)
    return (stats.t.ppf(power, df) + stats.t.ppf(1 - alpha / 2, df)) * np.sqrt(var)


@pytest.mark.parametrize("case", [
    (100, 0.5, 1, 1, 1.0, 0.0, 0.0, 0.0, 0.05, 0.8, None),
    (250, 0.3, 6, 12, 2.5, 0.4, 0.7, 0.3, 0.05, 0.8, None),
    (40, 0.25, 3, 2, 0.8, 0.2, -0.1, 0.05, 0.10, 0.9, 20),
    (1000, 0.65, 24, 36, 0.05, 0.01, 0.02, 0.008, 0.01, 0.8, 999),
])
def test_mde_matches_bpw_eq2(case):
    J, P, m, r, s2, pb, pa, px, alpha, power, df = case
    got = mde_panel(J, P, m, r, s2, psi_pre=pb, psi_post=pa, psi_cross=px, alpha=alpha, power=power, df=df)
    assert got == pytest.approx(_bpw(J, P, m, r, s2, pb, pa, px, alpha, power, J if df is None else df), rel=1e-10)


def test_mckenzie_special_case():
    J, P, s2 = 80, 0.5, 1.7
    want = (stats.t.ppf(0.8, J) + stats.t.ppf(0.975, J)) * np.sqrt(2 * s2 / (P * (1 - P) * J))
    assert mde_panel(J, P, 1, 1, s2) == pytest.approx(want, rel=1e-12)
    # more periods without serial correlation shrink the variance by (m + r) / (2 m r)
    assert mde_panel(J, P, 4, 4, s2) == pytest.approx(want * np.sqrt(0.25), rel=1e-12)


def _ar1_cov(T, rho, s2e):
    lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    return s2e / (1 - rho**2) * rho**lag


def test_simulated_power_matches_analytic_power():
    J, P, m, r, rho = 60, 0.5, 4, 4, 0.6
    C = _ar1_cov(m + r, rho, 1.0)
    s2 = C[0, 0]
    pb = C[:m, :m][~np.eye(m, dtype=bool)].mean()
    pa = C[m:, m:][~np.eye(r, dtype=bool)].mean()
    px = C[:m, m:].mean()
    mde = mde_panel(J, P, m, r, s2, pb, pa, px, df=J - 2)
    rng = np.random.default_rng(11)
    S = 6000
    L = np.linalg.cholesky(C)
    e = rng.standard_normal((S, J, m + r)) @ L.T + rng.normal(0, 3, (S, J, 1)) + rng.normal(0, 2, (S, 1, m + r))
    treated = np.arange(J) < int(P * J)
    y = e.copy()
    y[:, treated, m:] += mde
    d = y[:, :, m:].mean(axis=2) - y[:, :, :m].mean(axis=2)
    a, b = d[:, treated], d[:, ~treated]
    se = np.sqrt(a.var(axis=1, ddof=1) / a.shape[1] + b.var(axis=1, ddof=1) / b.shape[1])
    t = (a.mean(axis=1) - b.mean(axis=1)) / se
    power = np.mean(np.abs(t) > stats.t.ppf(0.975, J - 2))
    assert power == pytest.approx(0.8, abs=0.03)
    assert power_of(mde, J, P, m, r, s2, pb, pa, px, df=J - 2) == pytest.approx(0.8, abs=1e-9)


def test_variance_components_from_panel():
    rng = np.random.default_rng(5)
    J, T = 3000, 12
    e = rng.standard_normal((J, T)) * 1.3
    y = e + rng.normal(0, 5, (J, 1)) + np.linspace(0, 3, T)
    df = pd.DataFrame({"id": np.repeat(np.arange(J), T), "t": np.tile(np.arange(T), J), "y": y.ravel(),
                       "g": 0})
    vc = variance_components(df, "y", "id", "t", pre=6, post=6, gname="g")
    assert vc.sigma2 == pytest.approx(1.69 * (T - 1) / T, rel=0.05)
    # with independent errors the within-unit covariances are those the demeaning induces: -sigma2 / T
    for psi in (vc.psi_pre, vc.psi_post, vc.psi_cross):
        assert psi == pytest.approx(-1.69 / T, abs=0.03)
    with pytest.raises(CeciError, match="expected at least pre"):
        variance_components(df.assign(g=np.where(df.id < 5, 4, 0)), "y", "id", "t", pre=3, post=3, gname="g")


def test_optimal_rollout():
    np.testing.assert_allclose(optimal_rollout(5), [0.1, 0.3, 0.5, 0.7, 0.9], atol=1e-12)
    from ceci_impact.design.rollout import _numerical

    for T in (3, 6, 9):
        num = _numerical(T, 0, np.linspace(0.05, 0.95, T))
        assert np.trace(rollout_precision(num)) <= np.trace(rollout_precision(optimal_rollout(T))) + 1e-9
    w = optimal_rollout(8, carryover=2)
    assert np.all(np.diff(w) >= -1e-12) and 0 <= w[0] and w[-1] <= 1 + 1e-12
    assert np.trace(rollout_precision(w, 2)) >= np.trace(rollout_precision(optimal_rollout(8), 2)) - 1e-9
    with pytest.raises(CeciError, match="carryover"):
        optimal_rollout(4, carryover=4)


def _sites(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"site_id": [f"S{i:03d}" for i in range(n)],
                         "pole": rng.choice(["Norte", "Centro", "Sur"], n), "scheme": rng.choice(["IMSS", "Empresa"], n),
                         "women_jobs_pre": rng.gamma(5, 100, n)})


def test_assign_is_stratified_and_reproducible(tmp_path):
    s = _sites()
    a = assign_waves(s, parse_waves("2026:20,2027:25,2028:10"), ["pole", "scheme"], seed=3)
    assert (a.table.wave == "2026").sum() == 20 and (a.table.wave == "unscheduled").sum() == 5
    for w, n in (("2026", 20), ("2027", 25)):  # each stratum spread in proportion (within one site)
        got = a.table[a.table.wave == w].groupby(["pole", "scheme"]).size()
        want = s.groupby(["pole", "scheme"]).size() * n / len(s)
        assert (got.reindex(want.index, fill_value=0) - want).abs().max() <= 1.0 + 1e-9
    shuffled = assign_waves(s.sample(frac=1, random_state=1), parse_waves("2026:20,2027:25,2028:10"),
                            ["pole", "scheme"], seed=3)
    pd.testing.assert_frame_equal(a.table.reset_index(drop=True), shuffled.table.reset_index(drop=True))
    other = assign_waves(s, parse_waves("2026:20,2027:25,2028:10"), ["pole", "scheme"], seed=4)
    assert not a.table.wave.equals(other.table.wave)
    assert "std. diff. women_jobs_pre" in a.balance.columns


def test_assign_cli_byte_for_byte_and_bad_input(tmp_path):
    f = tmp_path / "sites.csv"
    _sites().to_csv(f, index=False)
    outs = []
    for k in range(2):
        out = tmp_path / f"a{k}.csv"
        r = subprocess.run([sys.executable, "-m", "ceci_impact.cli", "design", "assign", "--sites", str(f), "--waves",
                            "2026:20,2027:25", "--strata", "pole,scheme", "--seed", "9", "--out", str(out)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and b"sites_sha256" in outs[0] and b"seed: 9" in outs[0]
    bad = {"more": (["--waves", "2026:50,2027:25"], "ask for 75 sites but the file lists 60"),
           "stratum": (["--strata", "pole,state"], "stratum column 'state' not found"),
           "waves": (["--waves", "2026-20"], "is not a wave")}
    for args, msg in bad.values():
        base = ["--sites", str(f), "--waves", "2026:20", "--strata", "pole", "--seed", "1", "--out",
                str(tmp_path / "a0.csv")]
        for i in range(0, len(args), 2):
            base[base.index(args[i]) + 1] = args[i + 1]
        r = subprocess.run([sys.executable, "-m", "ceci_impact.cli", "design", "assign", *base], capture_output=True,
                           text=True)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert (tmp_path / "a0.csv").read_bytes() == outs[0]  # a failed run leaves the earlier file untouched
    s = _sites()
    s.loc[7, "scheme"] = None
    s.to_csv(f, index=False)
    r = subprocess.run([sys.executable, "-m", "ceci_impact.cli", "design", "assign", "--sites", str(f), "--waves",
                        "2026:20", "--strata", "pole,scheme", "--seed", "1", "--out", str(tmp_path / "x.csv")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "row 9" in r.stderr and "empty stratum 'scheme'" in r.stderr


def test_mde_cli():
    r = subprocess.run([sys.executable, "-m", "ceci_impact.cli", "design", "mde", "--units", "100", "--treated-share",
                        "0.5", "--pre", "1", "--post", "1", "--sigma2", "1"], capture_output=True, text=True)
    assert r.returncode == 0 and f"MDE {mde_panel(100, 0.5, 1, 1, 1.0):.6g}" in r.stdout
    r = subprocess.run([sys.executable, "-m", "ceci_impact.cli", "design", "mde", "--units", "100", "--treated-share",
                        "0", "--pre", "1", "--post", "1", "--sigma2", "1"], capture_output=True, text=True)
    assert r.returncode == 2 and "treated_share" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_power_simulation_exact_shift_and_reproducible(small_world):
    from ceci_impact.design import power as pw
    from ceci_impact.did import att_gt
    from ceci_impact.study.analysis import load

    mun = load("mun_month", small_world / "processed")
    h = pw.history(mun, "log_women_jobs", "cvegeo", "period")
    assert (h.first_treat == 0).all() and h.period.max() < mun.first_treat[mun.first_treat > 0].min()
    h = h.assign(_unit=pd.factorize(h.cvegeo)[0] + 1)
    H = h.period.nunique()
    pre, fu = max(2, H // 2), H - max(2, H // 2)
    d = pw._draw(h, pw.Schedule(3, 2, 1, fu, pre), "log_women_jobs", "_unit", "period", "random",
                 np.random.default_rng(1))
    kw = dict(tname="period", idname="_unit", gname="first_treat", control_group="notyettreated", est_method="reg",
              bstrap=False, cband=False, clustervars="_unit")
    a0 = att_gt(d, yname="log_women_jobs", **kw).aggte("simple", na_rm=True)
    shifted = d.assign(log_women_jobs=d.log_women_jobs + 0.07 * ((d.first_treat > 0) & (d.period >= d.first_treat)))
    a1 = att_gt(shifted, yname="log_women_jobs", **kw).aggte("simple", na_rm=True)
    assert a1.overall_att == pytest.approx(a0.overall_att + 0.07, abs=1e-10)
    assert a1.overall_se == pytest.approx(a0.overall_se, rel=1e-9)
    args = dict(sites_per_wave=[3], follow_up=[fu], effects=[0.0, 0.05], waves=2, spacing=1, pre=pre, reps=6, seed=3,
                progress=False)
    r1 = pw.simulate_power(mun, "log_women_jobs", "cvegeo", **args)
    r2 = pw.simulate_power(mun, "log_women_jobs", "cvegeo", **args)
    pd.testing.assert_frame_equal(r1, r2)
    assert r1.power.between(0, 1).all() and (r1.draws > 0).all()
    with pytest.raises(CeciError, match="periods of history"):
        pw.simulate_power(mun, "log_women_jobs", "cvegeo", **{**args, "follow_up": [400]})


def test_needs_assessment_adds_up_and_suppresses(small_world):
    from ceci_impact.design import needs_assessment
    from ceci_impact.study.analysis import MIN_CELL

    n = needs_assessment(small_world / "processed", radius_km=5.0)
    emp, poles = n["employers"], n["poles"]
    for _, row in poles.dropna(subset=["eligible_parents"]).iterrows():
        assert row.eligible_parents == emp.loc[emp.pole == row.pole, "eligible_parents"].sum()
        assert row.employers >= MIN_CELL
    s = n["sites"]
    assert s.loc[s.employers_near.isna() | (s.employers_near < MIN_CELL), "eligible_parents_near"].isna().all()
    assert set(s.flag) <= {"", "demand exceeds capacity", "capacity far from eligible parents",
                           "withheld (disclosure control)"}
