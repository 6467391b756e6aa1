"""The stages of a simulated world, in the order they draw from the shared generator."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..calendar import label
from ..geo import haversine_km
from .synthetic_effects import exposure_intensity
from .synthetic_shocks import shocked_duration
from .synthetic_world import (
    POLES,
    SECTOR_FEMALE,
    SECTOR_P,
    WAVES,
    _dates,
    _days,
    _draw_children,
    _month_of_day,
    _piecewise_duration,
    _size_band,
)


def _stage_municipalities(w: SimpleNamespace) -> None:
    """Simulation stage: municipalities (reads and adds arrays of the world ``w``)."""
    rng = w.rng
    spec = w.spec
    n_m = spec.n_mun
    states = rng.integers(1, 33, n_m)
    pole_keys = [k for k, _ in POLES][: max(3, min(15, n_m // 8))]
    for i, k in enumerate(pole_keys):
        states[i] = int(k[:2])
    cvegeo = []
    used = set(pole_keys)
    counter = dict.fromkeys(range(1, 33), 0)
    for i, s in enumerate(states):
        if i < len(pole_keys):
            cvegeo.append(pole_keys[i])
            continue
        while True:
            counter[s] += 1
            key = f"{s:02d}{counter[s] + 200:03d}"
            if key not in used:
                used.add(key)
                cvegeo.append(key)
                break
    cvegeo = np.array(cvegeo)
    pole = np.array([dict(POLES).get(k, "") if i < len(pole_keys) else "" for i, k in enumerate(cvegeo)])
    st_lat = rng.uniform(16.5, 31.0, 33)
    st_lon = rng.uniform(-115.0, -88.5, 33)
    # inside Mexico's bounding box with a margin for the sites and employers drawn around them (clipping draws
    # nothing: every world whose municipalities were inside is unchanged)
    m_lat = np.clip(st_lat[states] + rng.normal(0, 0.7, n_m), 14.5, 32.5)
    m_lon = np.clip(st_lon[states] + rng.normal(0, 0.7, n_m), -118.5, -86.5)
    x_ind = rng.normal(0, 1, n_m) + 1.2 * (pole != "")
    size_w = np.exp(rng.normal(0, 1.0, n_m) + 0.4 * x_ind)
    growth = 0.001 + spec.trend_x * x_ind + rng.normal(0, 0.0004, n_m)
    # IMSS keys: letter + 2 digits; about 8% of municipalities carry two keys (as Juárez does)
    n_dup = int(min(0.08 * n_m, 26 * 99 - n_m))  # letter + 2 digits: at most 2,574 keys
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    all_keys = np.array([f"{letter}{d:02d}" for letter in letters for d in range(1, 100)])
    keys = rng.permutation(all_keys)[: n_m + n_dup]
    key_mun = np.r_[np.arange(n_m), rng.choice(n_m, n_dup, replace=False)]
    w.cvegeo = cvegeo
    w.growth = growth
    w.key_mun = key_mun
    w.keys = keys
    w.m_lat = m_lat
    w.m_lon = m_lon
    w.n_m = n_m
    w.pole = pole
    w.size_w = size_w
    w.states = states
    w.x_ind = x_ind


def _stage_employers(w: SimpleNamespace) -> None:
    """Simulation stage: employers (reads and adds arrays of the world ``w``)."""
    key_mun = w.key_mun
    keys = w.keys
    m_lat = w.m_lat
    m_lon = w.m_lon
    n_m = w.n_m
    rng = w.rng
    size_w = w.size_w
    spec = w.spec
    x_ind = w.x_ind
    E = spec.n_employers
    e_mun = np.r_[np.repeat(np.arange(n_m), 3), rng.choice(n_m, E - 3 * n_m, p=size_w / size_w.sum())]
    e_mun = rng.permutation(e_mun)
    km = 1 / 111.0
    e_lat = m_lat[e_mun] + rng.normal(0, 2.5 * km, E)
    e_lon = m_lon[e_mun] + rng.normal(0, 2.5 * km / np.cos(np.radians(m_lat[e_mun])), E)
    sec_p = np.tile(SECTOR_P, (E, 1))
    sec_p[:, 2] *= np.exp(0.5 * x_ind[e_mun])  # manufacturing where the industrial index is high
    sec_p /= sec_p.sum(1, keepdims=True)
    e_sec_i = (sec_p.cumsum(1) > rng.random((E, 1))).argmax(1)
    head = np.maximum(1, np.round(rng.lognormal(0, 1.3, E) * spec.jobs / E / np.exp(1.3**2 / 2))).astype(int)
    head = np.maximum(1, np.round(head * spec.jobs / head.sum())).astype(int)
    f_share = np.clip(SECTOR_FEMALE[e_sec_i] + rng.normal(0, 0.08, E), 0.02, 0.9)
    e_key = np.empty(E, dtype=object)
    for m in range(n_m):  # few municipalities; assign each employer one of its municipality's keys
        ks = keys[key_mun == m]
        idx = np.flatnonzero(e_mun == m)
        e_key[idx] = ks[rng.integers(0, ks.size, idx.size)]
    e_key = e_key.astype(str)
    e_band = _size_band(head)
    e_id = np.array([f"RP{k:09d}" for k in rng.permutation(10**6)[:E] * 997 % 10**9])
    w.E = E
    w.e_band = e_band
    w.e_id = e_id
    w.e_key = e_key
    w.e_lat = e_lat
    w.e_lon = e_lon
    w.e_mun = e_mun
    w.e_sec_i = e_sec_i
    w.f_share = f_share
    w.head = head
    w.km = km


def _stage_sites(w: SimpleNamespace) -> None:
    """Simulation stage: CECI sites and waves (reads and adds arrays of the world ``w``)."""
    e_lat = w.e_lat
    e_lon = w.e_lon
    e_mun = w.e_mun
    head = w.head
    km = w.km
    m_lat = w.m_lat
    m_lon = w.m_lon
    n_m = w.n_m
    p1 = w.p1
    rng = w.rng
    spec = w.spec
    w0 = w.w0
    x_ind = w.x_ind
    S = spec.n_sites
    score = 1 / (1 + np.exp(-(-1.0 + spec.selection * x_ind)))
    site_mun = rng.choice(n_m, S, p=score / score.sum())
    scheme = np.where(rng.random(S) < 0.45, "Empresa", "IMSS")
    s_lat = m_lat[site_mun] + rng.normal(0, 1.5 * km, S)
    s_lon = m_lon[site_mun] + rng.normal(0, 1.5 * km, S)
    for j in np.flatnonzero(scheme == "Empresa"):  # employer scheme: at a large employer's door
        cand = np.flatnonzero(e_mun == site_mun[j])
        pick = cand[np.argmax(head[cand] * rng.random(cand.size))]
        s_lat[j], s_lon[j] = e_lat[pick] + rng.normal(0, 0.1 * km), e_lon[pick] + rng.normal(0, 0.1 * km)
    wave_sizes = np.array(WAVES, float)
    wave_of = rng.choice(len(WAVES), S, p=wave_sizes / wave_sizes.sum())
    # earlier waves go somewhat more to high-x municipalities (selection on timing too)
    order = np.argsort(-(x_ind[site_mun] + rng.normal(0, 1.0, S)))
    wave_of = np.sort(wave_of)[np.argsort(order)]
    open_p = w0 + 12 * wave_of + rng.integers(0, 12, S)
    opened = open_p <= p1
    open_day = _days(open_p) + rng.integers(0, 28, S)
    capacity = rng.choice([100, 150, 200, 250, 300], S, p=[0.2, 0.3, 0.3, 0.15, 0.05])
    w.S = S
    w.capacity = capacity
    w.open_day = open_day
    w.open_p = open_p
    w.opened = opened
    w.s_lat = s_lat
    w.s_lon = s_lon
    w.scheme = scheme
    w.site_mun = site_mun


def _stage_exposure(w: SimpleNamespace) -> None:
    """Simulation stage: exposure of employers (reads and adds arrays of the world ``w``)."""
    E = w.E
    S = w.S
    e_lat = w.e_lat
    e_lon = w.e_lon
    open_p = w.open_p
    opened = w.opened
    p1 = w.p1
    s_lat = w.s_lat
    s_lon = w.s_lon
    say = w.say
    spec = w.spec
    # first opened site within reach: its opening month and distance set the effect intensity
    expo_p = np.full(E, 10**9, dtype=np.int64)
    expo_d = np.full(E, np.inf)
    if opened.any():
        oi = np.flatnonzero(opened)
        for c in range(0, E, 20000):
            d = haversine_km(e_lat[c:c + 20000, None], e_lon[c:c + 20000, None], s_lat[None, oi], s_lon[None, oi])
            within = d <= spec.reach_km
            op = np.where(within, open_p[oi][None, :], 10**9)
            j = op.argmin(1)
            expo_p[c:c + 20000] = op[np.arange(op.shape[0]), j]
            expo_d[c:c + 20000] = np.where(op.min(1) < 10**9, d[np.arange(d.shape[0]), j], np.inf)
    intensity = exposure_intensity(w, expo_p, expo_d)  # distance decay, ring spill-over, dose response
    say(f"  {int(opened.sum())} of {S} CECI sites open by {label(p1)}; "
        f"{int((expo_d <= 3).sum())} employers within 3 km of an opened site")
    w.expo_p = expo_p
    w.intensity = intensity


def _stage_jobs(w: SimpleNamespace) -> None:
    """Simulation stage: jobs: stock and hires (reads and adds arrays of the world ``w``)."""
    E = w.E
    e_mun = w.e_mun
    expo_p = w.expo_p
    f_share = w.f_share
    growth = w.growth
    head = w.head
    intensity = w.intensity
    p0 = w.p0
    p1 = w.p1
    rng = w.rng
    say = w.say
    spec = w.spec
    months = np.arange(p0, p1 + 1)
    cal_m = months % 12
    seas = 0.008 * np.cos(2 * np.pi * (cal_m - 10) / 12) - 0.01 * (cal_m == 0)
    g_e = growth[e_mun]
    lam = head[:, None] * np.exp(g_e[:, None] * (months - p0)[None, :]) * np.maximum(
        spec.separation + g_e[:, None] + seas[None, :], 0.002
    )
    if getattr(w, "demand", None) is not None:  # local labour-demand shocks (municipality, site, employer)
        lam = lam * np.exp(w.demand)
    hires = rng.poisson(lam)
    since = months[None, :] - expo_p[:, None]
    ramp = np.clip((since + 1) / spec.ramp_months, 0, 1) * (since >= 0)
    lam_x = lam * f_share[:, None] * spec.effect_female_hires * intensity[:, None] * ramp
    extra = rng.poisson(lam_x)

    def new_jobs(counts, female_p, kind):
        e_idx, t_idx = np.nonzero(counts)
        reps = counts[e_idx, t_idx]
        e_r, t_r = np.repeat(e_idx, reps), np.repeat(months[t_idx], reps)
        n = e_r.size
        female = rng.random(n) < (female_p if np.isscalar(female_p) else female_p[e_r])
        return e_r, t_r, female, np.full(n, kind)

    e0 = np.repeat(np.arange(E), head)
    n0 = e0.size
    stock = (e0, np.full(n0, p0 - 1), rng.random(n0) < f_share[e0], np.zeros(n0, int))
    base_h = new_jobs(hires, f_share, 1)
    extra_h = new_jobs(extra, 1.0, 2)
    emp = np.concatenate([stock[0], base_h[0], extra_h[0]])
    smon = np.concatenate([stock[1], base_h[1], extra_h[1]])
    female = np.concatenate([stock[2], base_h[2], extra_h[2]])
    kind = np.concatenate([stock[3], base_h[3], extra_h[3]])  # 0 stock, 1 hire, 2 effect-induced hire
    N = emp.size
    tenure = np.where(kind == 0, rng.geometric(spec.separation, N), 0)
    start_day = np.where(kind == 0, _days(p0) - 30 * tenure + rng.integers(0, 28, N),
                         _days(smon) + rng.integers(0, 27, N))
    age = np.clip(18 + rng.gamma(2.2, 8.0, N), 18, 70).astype(int)
    birth_year = (pd.DatetimeIndex(_dates(start_day)).year.to_numpy() - age).astype(np.int16)
    ref_day = np.where(kind == 0, _days(p0), start_day)  # stock workers: children drawn around the window start
    age_ref = age + (ref_day - start_day) / 365.25  # the parent's age on that day
    child = _draw_children(rng, N, age_ref, ref_day)
    ind = kind == 2
    if ind.any():  # effect-induced hires are mostly mothers of young children
        child[ind] = _draw_children(rng, int(ind.sum()), np.clip(age[ind], 22, 40), start_day[ind],
                                    eligible_boost=np.ones(int(ind.sum()), bool))
        age[ind] = np.clip(age[ind], 22, 40)
    el_start = np.where(child >= 0, _month_of_day(child + 43), 10**9)
    el_end = np.where(child >= 0, _month_of_day(child + 1461), 10**9)  # first month no longer eligible
    say(f"  {N:,} job spells ({n0:,} in the initial stock, {int((kind == 1).sum()):,} hires, "
        f"{int((kind == 2).sum()):,} hires induced by CECI)")

    # separation hazards: young workers and mothers of young children leave more often
    h0 = spec.separation * np.exp(0.25 * (age < 25) - 0.3 * (age > 45) + 0.15 * (female & (child >= 0)))
    h0 = np.clip(h0 * np.exp(rng.normal(0, 0.2, E))[emp], 0.003, 0.3)
    parent_w = np.where(female, 1.0, spec.father_share)
    k_sp = intensity[emp] * parent_w
    h1 = h0 * (1 - spec.effect_retention * k_sp)
    c0, c1 = -np.log1p(-h0), -np.log1p(-h1)
    s_eff = np.where(kind == 0, p0 - 1, smon)
    a = np.maximum(expo_p[emp], el_start)
    b = el_end
    L = rng.exponential(1.0, N)
    if getattr(w, "demand", None) is not None:  # the hazard moves with the demand shock, month by month
        F = np.c_[np.zeros(E), np.cumsum(np.exp(w.sep_log), axis=1)]
        d1 = shocked_duration(L, s_eff, a, b, c0, c1, F, emp, p0, p1, _piecewise_duration)
        d0 = shocked_duration(L, s_eff, a, b, c0, c0, F, emp, p0, p1, _piecewise_duration)
    else:
        d1 = _piecewise_duration(L, s_eff, a, b, c0, c1)
        d0 = _piecewise_duration(L, s_eff, a, b, c0, c0)
    endm1, endm0 = s_eff + d1, s_eff + d0  # month in which the spell ends (not active at its end)
    end_off = rng.integers(0, 27, N)
    end_day = _days(endm1) + end_off
    end_day = np.maximum(end_day, start_day + 1)
    is_open = endm1 > p1
    w.N = N
    w.birth_year = birth_year
    w.child = child
    w.el_end = el_end
    w.el_start = el_start
    w.emp = emp
    w.end_day = end_day
    w.endm0 = endm0
    w.endm1 = endm1
    w.female = female
    w.is_open = is_open
    w.k_sp = k_sp
    w.kind = kind
    w.months = months
    w.s_eff = s_eff
    w.start_day = start_day


def _stage_certificates(w: SimpleNamespace) -> None:
    """Simulation stage: incapacity certificates (reads and adds arrays of the world ``w``)."""
    N = w.N
    child = w.child
    el_end = w.el_end
    el_start = w.el_start
    emp = w.emp
    end_day = w.end_day
    endm0 = w.endm0
    endm1 = w.endm1
    expo_p = w.expo_p
    female = w.female
    k_sp = w.k_sp
    kind = w.kind
    p0 = w.p0
    p1 = w.p1
    rng = w.rng
    s_eff = w.s_eff
    spec = w.spec
    start_day = w.start_day
    # general illness: inhomogeneous Poisson by thinning; rates higher for women and parents
    absence = getattr(w, "absence", None)  # incapacity-rate shocks (regional, site, employer), or None
    mult_max = float(np.exp(absence.max())) if absence is not None else 1.0
    r_max = max(0.07, 0.025 * 1.3 * 1.6 * mult_max)  # the thinning's bound (0.07 without shocks)
    act_from = np.maximum(s_eff, p0)
    act_to = np.minimum(endm1 - 1, p1)  # months active at month end within the window
    n_mon = np.maximum(act_to - act_from + 1, 0)
    n_ep = rng.poisson(r_max * n_mon)
    sp = np.repeat(np.arange(N), n_ep)
    ep_m = act_from[sp] + np.floor(rng.random(sp.size) * n_mon[sp]).astype(np.int64)
    elig_ep = (ep_m >= el_start[sp]) & (ep_m < el_end[sp])
    rate = 0.025 * np.where(female[sp], 1.3, 1.0) * np.where(elig_ep, 1.6, 1.0)
    if absence is not None:
        rate = rate * np.exp(absence[emp[sp], ep_m - p0])
    keep = rng.random(sp.size) < rate / r_max
    sp, ep_m, elig_ep = sp[keep], ep_m[keep], elig_ep[keep]
    treated_ep = elig_ep & (ep_m >= expo_p[emp[sp]])
    drop_p = spec.effect_absence * k_sp[sp] * treated_ep
    kept1 = rng.random(sp.size) >= drop_p  # observed (CECI) world
    # counterfactual: every episode within the spell's no-CECI length, and none of workers hired only because of a
    # CECI (kind 2: their jobs do not exist without it, as in the stock W0)
    kept0 = (ep_m < endm0[sp]) & (kind[sp] != 2)
    ep_days = 1 + rng.negative_binomial(2, 2 / 8.0, sp.size)  # mean about 7 days
    ep_day = np.maximum(_days(ep_m) + rng.integers(0, 28, sp.size), start_day[sp])  # never before the job starts
    # work risks and maternity
    n_rt = rng.poisson(0.004 * mult_max * n_mon)
    sp_rt = np.repeat(np.arange(N), n_rt)
    rt_m = act_from[sp_rt] + np.floor(rng.random(sp_rt.size) * n_mon[sp_rt]).astype(np.int64)
    if absence is not None:  # thinning to the shocked rate, with the shocks' own generator
        keep_rt = w.shock_rng.random(sp_rt.size) < np.exp(absence[emp[sp_rt], rt_m - p0]) / mult_max
        sp_rt, rt_m = sp_rt[keep_rt], rt_m[keep_rt]
    rt_day = np.maximum(_days(rt_m) + rng.integers(0, 28, sp_rt.size), start_day[sp_rt])
    rt_days = 1 + rng.negative_binomial(1, 1 / 20.0, sp_rt.size)
    mat = female & (child >= start_day + 42) & (child < end_day) & (child - 42 >= _days(p0)) & (child - 42 <= _days(p1 + 1) - 1)
    sp_ma = np.flatnonzero(mat)
    w.ep_day = ep_day
    w.ep_days = ep_days
    w.ep_m = ep_m
    w.kept0 = kept0
    w.kept1 = kept1
    w.rt_day = rt_day
    w.rt_days = rt_days
    w.rt_m = rt_m
    w.sp = sp
    w.sp_ma = sp_ma
    w.sp_rt = sp_rt
