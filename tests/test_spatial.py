"""spillover_did (Butts 2023): exact recovery without noise, the naive ring comparison's bias, the truth machinery
(the estimator applied to D * tau), exposure forms and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ceci_impact._options import CeciError
from ceci_impact.did.inference import REPORT_RULE
from ceci_impact.did.spatial import spillover_did


def panel(seed: int = 3, n: int = 500, T: int = 10, direct: float = 1.0, spill: float = 0.4, noise: float = 1.0):
    """Units on a 60 x 60 km square, 6 centres opening in periods 4..13 (some after the window); effect ``direct``
    within 3 km of an opened centre, ``spill`` within (3, 10], none beyond."""
    rng = np.random.default_rng(seed)
    xy, sxy = rng.uniform(0, 60, (n, 2)), rng.uniform(0, 60, (6, 2))
    open_t = rng.integers(4, T + 4, 6)
    t = np.arange(1, T + 1)
    dist = np.sqrt(((xy[:, None] - sxy[None]) ** 2).sum(-1))
    D = np.where(open_t[None, None] <= t[None, :, None], dist[:, None], np.inf).min(-1)
    tau = np.where(D <= 3, direct, np.where(D <= 10, spill, 0.0))
    y = rng.normal(size=n)[:, None] + rng.normal(size=T)[None] + tau + noise * rng.normal(size=(n, T))
    return pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(t, n), "y": y.ravel(), "dist": D.ravel(),
                         "tau": tau.ravel(), "zone": np.repeat(np.arange(n) // 10, T)})


KW = dict(yname="y", tname="t", idname="id", distname="dist")


def test_noise_free_recovery_and_naive_bias():
    df = panel(noise=0.0)
    r = spillover_did(df, **KW)
    eff = r.ring_effects().set_index("term")
    assert abs(eff.loc["direct (0, 3]", "att"] - 1.0) < 1e-9
    assert abs(eff.loc["spillover (3, 10]", "att"] - 0.4) < 1e-9
    # the naive comparison puts the buffer's spillover into the counterfactual trend: biased towards zero
    assert eff.loc["naive ring comparison", "att"] < 1.0 - 0.02
    assert abs(eff.loc["direct - naive", "att"] - (1.0 - eff.loc["naive ring comparison", "att"])) < 1e-12
    post = r.table[r.table.event_time >= 0]
    np.testing.assert_allclose(post.att, np.where(post.ring == 0, 1.0, 0.4), atol=1e-9)
    pre = r.table[r.table.event_time < 0]
    np.testing.assert_allclose(pre.att, 0, atol=1e-9)


def test_truth_is_the_estimator_on_exposed_effects():
    """The truth of each ring is the estimator applied to D * tau (D = exposed in any ring): the ring mean of tau."""
    df = panel(seed=4)
    df["tau"] = np.where(df.dist <= 3, 0.5 + 0.1 * df.dist, np.where(df.dist <= 10, 1 / df.dist, 0.0))
    exposed = df.dist <= 10
    truth = spillover_did(df.assign(y=np.where(exposed, df.tau, 0.0)), **KW, naive=False,
                          pretrends=False).ring_effects()
    np.testing.assert_allclose(truth.att, [df.tau[df.dist <= 3].mean(), df.tau[(df.dist > 3) & exposed].mean()],
                               atol=1e-9)


def test_inference_and_protocol():
    df = panel(seed=5)
    r = spillover_did(df, **KW, clustervars="zone")
    assert r.params["clustervars"] == "zone" and r.overall_se > 0
    lo, hi = r.overall_ci
    assert lo < r.overall_att < hi
    m = r.event_study()
    assert m.vcov.shape == (m.event_time.size,) * 2
    es = r.ring_event_study(1)
    np.testing.assert_allclose(np.sqrt(np.diag(es.vcov.to_numpy())), es.table.se, rtol=1e-10)
    d = r.to_dict()
    assert d["naive"]["att"] == r.naive["att"] and "rings" in d
    assert "Naive ring comparison" in r._repr_html_() and "direct (0, 3]" in r.summary()
    unclustered = spillover_did(df, **KW)
    assert unclustered.overall_att == r.overall_att and unclustered.overall_se != r.overall_se


def test_cohort_exposure_equals_time_varying():
    """A time-invariant distance with its cohort gives the same estimates as the equivalent time-varying distance."""
    df = panel(seed=6)
    fin = df.dist.where(np.isfinite(df.dist))
    d_end = fin.groupby(df.id).transform("last")
    g = df.t.where(fin.notna()).groupby(df.id).transform("min").fillna(0)
    # keep units whose nearest opened centre never changes once exposed (one centre reaches them)
    stable = fin.fillna(d_end).groupby(df.id).transform(lambda s: s.nunique() == 1) | d_end.isna()
    sub = df[stable].assign(d_end=d_end[stable], g=g[stable])
    a = spillover_did(sub, **KW)
    b = spillover_did(sub, **{**KW, "distname": "d_end"}, gname="g", exposure="cohort")
    pd.testing.assert_frame_equal(a.table, b.table)


def test_bad_input():
    df = panel(seed=7, n=120)
    with pytest.raises(CeciError, match="exposure='nearest' is not allowed"):
        spillover_did(df, **KW, exposure="nearest")
    with pytest.raises(CeciError, match="rings"):
        spillover_did(df, **KW, rings=(10, 3))
    with pytest.raises(CeciError, match="distname"):
        spillover_did(df, **{**KW, "distname": "km"})
    with pytest.raises(CeciError, match="far"):
        spillover_did(df, **KW, rings=(3, 1000))
    with pytest.raises(CeciError, match="negative"):
        spillover_did(df.assign(dist=-df.dist), **KW)


def test_simulator_intensity_spillover_and_dose():
    """The simulator's effect intensity: distance decay, spill-over knob beyond 3 km, dose elasticity."""
    from types import SimpleNamespace

    from ceci_impact.data.synthetic_effects import exposure_intensity

    # two sites on the equator, 0.5 degrees apart (about 55 km); employers at 1, 5 km of site 0 and 1 km of site 1
    km = 1 / 111.195
    e_lon = np.array([1 * km, 5 * km, 0.5 + 1 * km])
    spec = SimpleNamespace(decay_km=3.0, reach_km=10.0, spillover_effect=1.0, dose_slope=0.0, spillover_from_km=3.0)
    w = SimpleNamespace(spec=spec, capacity=np.array([100, 400]), s_lat=np.zeros(2), s_lon=np.array([0.0, 0.5]),
                        e_lat=np.zeros(3), e_lon=e_lon, head=np.array([200, 300, 200]), opened=np.array([True, True]),
                        open_p=np.array([10, 12]))
    d = np.array([1.0, 5.0, 1.0])
    base = exposure_intensity(w, np.array([10, 10, 12]), d)
    np.testing.assert_allclose(base, np.exp(-d / 3), rtol=1e-6)
    assert w.expo_site.tolist() == [0, 0, 1]
    np.testing.assert_allclose(w.site_dose, [100 * 100 / 20, 100 * 400 / 20])  # 10 % of the 200 workers within 3 km
    w.spec = SimpleNamespace(**{**vars(spec), "spillover_effect": 0.0})
    assert exposure_intensity(w, np.array([10, 10, 12]), d)[1] == 0.0
    w.spec = SimpleNamespace(**{**vars(spec), "dose_slope": 1.0})
    dosed = exposure_intensity(w, np.array([10, 10, 12]), d)
    ref = np.median(w.site_dose)
    np.testing.assert_allclose(dosed, np.exp(-d / 3) * w.site_dose[[0, 0, 1]] / ref, rtol=1e-6)


def test_small_cluster_effective():
    """small_cluster='effective': same estimates, Student-t intervals with G* - 1 df, G* between 1 and the
    number of clusters; a panel with equal clusters has G* close to their number."""
    df = panel(seed=8)
    kw = dict(**KW, clustervars="zone", horizon=False, pretrends=False)
    a = spillover_did(df, **kw).ring_effects()
    b = spillover_did(df, **kw, small_cluster="effective").ring_effects()
    np.testing.assert_allclose(a.att, b.att)
    n_cl = df.zone.nunique()
    assert ((b.df.iloc[:3] > 0) & (b.df.iloc[:3] < n_cl - 1)).all()
    assert ((b.ci_high - b.ci_low) > (a.ci_high - a.ci_low)).iloc[:3].all()
    with pytest.raises(CeciError, match="small_cluster"):
        spillover_did(df, **kw, small_cluster="wild")


def test_studies_on_the_simulated_world(small_world):
    """Spill-over and dose studies on the small world's employer panel: estimates with truths, JSON-ready."""
    import json
    import warnings

    from ceci_impact.study.spatial_dose import dose_study_or_note, spillover_study

    proc = small_world / "processed"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        sp = spillover_study(proc, "separation_rate", covariates=["x_industrial"])
    t = sp.table()
    assert list(t.term[:2]) == ["direct (0, 3]", "spillover (3, 10]"] and t.truth.iloc[:3].notna().all()
    assert sp.result.params["small_cluster"] == REPORT_RULE and np.isfinite(sp.result.overall_ci).all()
    json.dumps(sp.to_dict())
    dz, note = dose_study_or_note(proc, "separation_rate", biters=99)
    assert (dz is None) != (note is None)
    if dz is not None:
        assert {"truth", "estimate"} <= set(dz.table().columns)
        json.dumps(dz.to_dict())
