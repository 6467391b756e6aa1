"""A simulated CECI world written in the real sources' formats.

``simulate(size, seed, out)`` writes into ``out`` (``data/raw`` by default):

- ``asegurados/asg-YYYY-MM-DD.csv``: IMSS open-data monthly files (29 columns, ``|``, latin-1;
  one month UTF-8 with a mangled ``tamaño_patron`` header, one with a BOM; from July 2025 the
  extended format with ``periodo_informacion``, ``rango_ingreso_vsm``, ``rango_ingreso_uma``
  and the platform-worker flag ``ptpd``), aggregated from the simulated jobs;
- ``crosswalk_imss_municipio_to_inegi.csv`` (IMSS key → INEGI ``cvegeo``, many-to-one);
- ``municipios.csv`` (INEGI key, name, centroid, working-age women, the covariate
  ``x_industrial`` the simulator used, PODECOBI pole);
- ``ceci_sites.csv`` (the CECI registry; unopened sites have no date);
- ``employers.parquet``, ``job_spells.parquet``, ``incapacidades.parquet`` (the layout of
  IMSS confidential records);
- ``truth.json``: the effects the world was generated with, computed exactly as the
  difference between the observed world and its no-CECI counterfactual simulated with the
  same random numbers, per outcome, cohort and event time, plus the design facts.

Design (what makes the world credible rather than a toy): CECI go to municipalities with a
high ``x_industrial``, which also drives faster formal-employment growth, so unconditional
comparisons are biased while conditioning on ``x_industrial`` restores parallel trends;
effects act on parents of children aged 43 days to 4 years (mothers above all), ramp up
after opening and decay with distance to the site; employment is seasonal.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import numpy as np
import pandas as pd

from ._options import CeciError, check_option
from .calendar import label, last_complete_month, parse_month
from .geo import haversine_km
from .io import atomic_dir, log
from .sources import ASG_REQUIRED

Size = Literal["small", "default", "national"]

ASG_COLUMNS = ASG_REQUIRED
PLATFORM_BREAK = 2025 * 12 + 6  # July 2025: platform workers enter the open data

# The 15 first-stage PODECOBI poles (the project compilation podecobi_ceci_anchors.csv of 2025 press reports).
POLES = [
    ("04012", "Seybaplaya"), ("08037", "Ciudad Juárez"), ("10005", "Durango"), ("15058", "Nezahualcóyotl"),
    ("11007", "Celaya"), ("13076", "Tula"), ("15120", "AIFA"), ("16053", "Morelia"),
    ("21154", "Ciudad Modelo"), ("23004", "Chetumal"), ("25001", "Topolobampo"), ("28003", "Altamira"),
    ("29013", "Huamantla"), ("30189", "Tuxpan"), ("26030", "Hermosillo"),
]
# IMSS economic sectors (division, 1 digit) with a typical female share and mean daily wage (MXN)
SECTORS = np.array([0, 1, 3, 4, 5, 6, 7, 8, 9])
SECTOR_P = np.array([0.05, 0.01, 0.30, 0.08, 0.01, 0.22, 0.07, 0.16, 0.10])
SECTOR_FEMALE = np.array([0.18, 0.12, 0.40, 0.10, 0.20, 0.47, 0.22, 0.45, 0.55])
SECTOR_WAGE = np.array([330, 700, 520, 420, 800, 400, 560, 560, 480])
MIN_WAGE, UMA = 278.8, 113.14
WAVES = [200, 250, 200, 200, 200, 150]  # the plan's yearly waves: 2026, 2027, then ~200 a year
# The fixed calendar of the simulated worlds: the same command gives the same numbers on any day
# (``end="latest"`` takes the last complete month instead).
DEFAULT_END = "2026-11"


@dataclass(frozen=True)
class WorldSpec:
    """Size and behaviour of a simulated world; effects are relative magnitudes."""

    n_mun: int
    n_employers: int
    jobs: int
    months: int
    n_sites: int
    separation: float = 0.03  # monthly separation hazard of a typical worker
    effect_female_hires: float = 0.15  # proportional rise in women's hiring at a site (distance 0)
    effect_retention: float = 0.40  # proportional fall in eligible mothers' separation hazard
    effect_absence: float = 0.40  # proportional fall in eligible parents' general-illness spells
    father_share: float = 0.35  # fathers' effects relative to mothers'
    decay_km: float = 3.0  # effects decay as exp(-distance / decay_km)
    reach_km: float = 10.0  # no effect beyond this distance (the spillover radius)
    ramp_months: int = 6  # hiring effect reaches full size after this many months
    selection: float = 1.5  # log-odds of a CECI per unit of x_industrial
    trend_x: float = 0.0012  # monthly growth per unit of x_industrial
    extra: dict = field(default_factory=dict)


SIZES: dict[str, WorldSpec] = {
    "small": WorldSpec(n_mun=40, n_employers=800, jobs=16_000, months=36, n_sites=36),
    "default": WorldSpec(n_mun=160, n_employers=4_000, jobs=100_000, months=48, n_sites=130),
    "national": WorldSpec(n_mun=2_400, n_employers=60_000, jobs=1_100_000, months=60, n_sites=900),
}


def _days(p: np.ndarray | int) -> np.ndarray:
    """Day number (days since 1970-01-01) of the first day of period(s) ``p``."""
    m = np.asarray(p, dtype=np.int64) - 1970 * 12
    return m.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _dates(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


def _month_of_day(days: np.ndarray) -> np.ndarray:
    return _dates(days).astype("datetime64[M]").astype(np.int64) + 1970 * 12


def _size_band(h: np.ndarray) -> np.ndarray:
    edges = np.array([1, 5, 50, 250, 500, 1000])
    return np.array([f"S{k}" for k in range(1, 8)])[np.searchsorted(edges, h, side="left")]


def _piecewise_duration(L, s, a, b, c0, c1):
    """Months survived after start month ``s`` with cumulative hazard ``L`` (exponential draw).

    The monthly cumulative hazard is ``c0`` except in months ``[a, b)`` where it is ``c1``.
    With the same ``L``, a lower ``c1`` gives a weakly longer spell (common random numbers).
    """
    a2 = np.maximum(a, s + 1)
    b2 = np.maximum(b, a2)
    n1 = a2 - s - 1
    n2 = b2 - a2
    C1 = n1 * c0
    C2 = C1 + n2 * c1
    with np.errstate(divide="ignore", invalid="ignore"):
        k1 = np.floor(L / c0) + 1
        k2 = n1 + np.floor((L - C1) / np.where(c1 > 0, c1, 1.0)) + 1
        k3 = n1 + n2 + np.floor((L - C2) / c0) + 1
    return np.where(L < C1, k1, np.where(L < C2, k2, k3)).astype(np.int64)


def _draw_children(rng, n, age, hire_day, eligible_boost=None):
    """Youngest child's birth day (or -1): some born in the past, some during the job.

    ``age`` is the parent's age on ``hire_day`` (the reference day of the draw), so parents are 15 to 55 years old
    at a birth: recent births only to parents up to 50 on that day."""
    young = (age >= 19) & (age <= 44)
    u = rng.random(n)
    p_recent = np.where(young, 0.42, np.where(age <= 50, 0.03, 0.0))
    if eligible_boost is not None:
        p_recent = np.where(eligible_boost, 0.85, p_recent)
    recent = u < p_recent
    older = (~recent) & (u < p_recent + np.where(age > 24, 0.35, 0.0))
    cb = np.full(n, -1, dtype=np.int64)
    offs = rng.integers(-4 * 365, 2 * 365, n) if eligible_boost is None else rng.integers(-3 * 365, -60, n)
    cb[recent] = hire_day[recent] + offs[recent]
    back = rng.integers(5 * 365, 15 * 365, older.sum())
    # parents 16 to 55 years old at the birth (the clamp leaves the random stream unchanged)
    back = np.clip(back, (age[older] - 55) * 365, (age[older] - 16) * 365)
    cb[older] = hire_day[older] - back
    return cb


def simulate(
    size: Size = "default",
    seed: int = 2026,
    out: str | Path = "data/raw",
    *,
    end: str | None = None,
    first_wave: str | None = None,
    quiet: bool = False,
) -> Path:
    """Simulate a CECI world and write every source in its real format into ``out``.

    Parameters
    ----------
    size
        ``"small"`` (tests), ``"default"`` (``make report``) or ``"national"`` (benchmarks).
    seed
        Seed of every random draw: the same seed gives byte-identical files.
    out
        Folder to write; replaced atomically (a failed run leaves the old one in place).
    end
        Last month of the data window (``YYYY-MM``); default :data:`DEFAULT_END` (a fixed calendar, so a
        world is the same on any day); ``"latest"``: the last complete month.
    first_wave
        Month the first opening wave starts; default 30 months before ``end``.
    quiet
        Silence progress lines.

    Returns
    -------
    Path
        The output folder.
    """
    check_option("size", size, Size)
    spec = SIZES[size]
    t_start = time.perf_counter()
    end = DEFAULT_END if end is None else end
    p1 = last_complete_month() if end == "latest" else parse_month(end, "end")
    p0 = p1 - spec.months + 1
    w0 = parse_month(first_wave, "first_wave") if first_wave else p1 - 29
    if not p0 + 3 <= w0 <= p1:
        raise CeciError(
            f"first_wave={label(w0)} must fall inside the data window {label(p0 + 3)}..{label(p1)} "
            "(at least 3 pre-periods)"
        )
    rng = np.random.default_rng(seed)
    say = (lambda *a: None) if quiet else log
    say(f"simulating the {size} world: {spec.n_mun} municipalities, {spec.n_employers} employers, "
        f"{spec.jobs:,} initial jobs, {label(p0)}..{label(p1)} (seed {seed})")

    # the world is simulated in stages that share one generator, in this order (same seed, same files)
    w = SimpleNamespace(spec=spec, rng=rng, p0=p0, p1=p1, w0=w0, say=say)
    _stage_municipalities(w)
    _stage_employers(w)
    _stage_sites(w)
    _stage_exposure(w)
    _stage_jobs(w)
    _stage_certificates(w)
    E = w.E
    e_lat = w.e_lat
    e_lon = w.e_lon
    e_mun = w.e_mun
    emp = w.emp
    endm0 = w.endm0
    endm1 = w.endm1
    ep_days = w.ep_days
    ep_m = w.ep_m
    female = w.female
    kept0 = w.kept0
    kept1 = w.kept1
    kind = w.kind
    months = w.months
    n_m = w.n_m
    open_p = w.open_p
    opened = w.opened
    s_eff = w.s_eff
    s_lat = w.s_lat
    s_lon = w.s_lon
    site_mun = w.site_mun
    sp = w.sp
    # ---------------------------------------------------------------- truth (observed minus counterfactual)
    truth, potential = _truth(spec, p0, months, E, emp, female, s_eff, endm1, endm0, kind, sp, ep_m, ep_days, kept1,
                              kept0, e_mun, e_lat, e_lon, s_lat, s_lon, open_p, opened, n_m, site_mun)

    # ---------------------------------------------------------------- write everything atomically
    out = Path(out)
    with atomic_dir(out) as tmp:
        _write_world(tmp, w, truth, potential, size, seed)
    say(f"  wrote {out} in {time.perf_counter() - t_start:.1f} s")
    return out


def _truth(spec, p0, months, E, emp, female, s_eff, endm1, endm0, kind, sp, ep_m, ep_days, kept1, kept0,
           e_mun, e_lat, e_lon, s_lat, s_lon, open_p, opened, n_m, site_mun, ring_km: float = 3.0) -> dict:
    """Exact effects: the observed world minus its counterfactual simulated with the same random numbers.

    Estimands match the panels' definitions: municipality cohort = month of the first CECI opening in
    the municipality; employer cohort = month the first CECI within ``ring_km`` opened.
    """
    T = months.size
    every = np.ones(emp.size, bool)
    real = kind != 2

    def stock(mask, endm):
        arr = np.zeros((E, T + 1))
        a = np.clip(s_eff[mask] - p0, 0, T)
        b = np.clip(endm[mask] - p0, 0, T)
        np.add.at(arr, (emp[mask], a), 1)
        np.add.at(arr, (emp[mask], b), -1)
        return np.cumsum(arr, 1)[:, :T]

    def count(mask, when):
        arr = np.zeros((E, T))
        m = mask & (when >= p0) & (when <= months[-1])
        np.add.at(arr, (emp[m], when[m] - p0), 1)
        return arr

    W1, W0 = stock(every, endm1), stock(real, endm0)
    F1, F0 = stock(female, endm1), stock(female & real, endm0)
    S1, S0 = count(every, endm1), count(real, endm0)
    A1, A0 = np.zeros((E, T)), np.zeros((E, T))
    np.add.at(A1, (emp[sp[kept1]], ep_m[kept1] - p0), ep_days[kept1])
    np.add.at(A0, (emp[sp[kept0]], ep_m[kept0] - p0), ep_days[kept0])

    # municipality: log women's jobs
    Fm1, Fm0 = np.zeros((n_m, T)), np.zeros((n_m, T))
    np.add.at(Fm1, e_mun, F1)
    np.add.at(Fm0, e_mun, F0)
    m_coh = np.zeros(n_m, dtype=np.int64)
    for j in np.flatnonzero(opened):
        m = site_mun[j]
        m_coh[m] = open_p[j] if m_coh[m] == 0 else min(m_coh[m], open_p[j])
    with np.errstate(divide="ignore"):
        fem = _cohort_att(np.log(Fm1), np.log(Fm0), m_coh, months)
    # employers in the treated ring
    e_coh = np.zeros(E, dtype=np.int64)
    oi = np.flatnonzero(opened)
    for c in range(0, E, 20000):
        if oi.size == 0:
            break
        d = haversine_km(e_lat[c:c + 20000, None], e_lon[c:c + 20000, None], s_lat[None, oi], s_lon[None, oi])
        op = np.where(d <= ring_km, open_p[oi][None, :], 0)
        op = np.where(op > 0, op, 10**9).min(1)
        e_coh[c:c + 20000] = np.where(op < 10**9, op, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        abs1, abs0 = A1 / W1, A0 / W0
        prev1 = np.c_[np.full(E, np.nan), W1[:, :-1]]
        prev0 = np.c_[np.full(E, np.nan), W0[:, :-1]]
        sep1, sep0 = S1 / prev1, S0 / prev0
    ok = (W1 > 0) & (W0 > 0)
    ok_sep = (prev1 > 0) & (prev0 > 0)
    outcomes = {
        "female_employment": {
            "unit": "municipality", "outcome": "log_women_jobs", "cohort": "first CECI opening in the municipality",
            "cells": fem},
        "absenteeism": {
            "unit": "employer", "outcome": "eg_days_per_worker", "ring_km": ring_km,
            "cohort": f"first CECI opening within {ring_km:g} km",
            "cells": _cohort_att(abs1, abs0, e_coh, months, ok)},
        "separations": {
            "unit": "employer", "outcome": "separation_rate", "ring_km": ring_km,
            "cohort": f"first CECI opening within {ring_km:g} km",
            "cells": _cohort_att(sep1, sep0, e_coh, months, ok_sep)},
    }
    for v in outcomes.values():
        v.update(_summaries(v["cells"]))
    potential = {"workers": (W1, W0), "eg_days": (A1, A0), "separations": (S1, S0), "women_jobs": (Fm1, Fm0)}
    return potential_truth_dict(spec, outcomes), potential


def potential_truth_dict(spec, outcomes) -> dict:
    """``truth.json``: the design facts and the fixed-ring summaries (the estimand truths come from
    ``truth_*_month.parquet``, see :mod:`ceci_impact.truth`)."""
    return {
        "simulated": True,
        "outcomes": outcomes,
        "design": {
            "selection": "CECI sites chosen with log-odds proportional to x_industrial (municipios.csv), which "
                         "also raises monthly employment growth: parallel trends hold only conditional on it",
            "selection_logodds_per_x": spec.selection, "trend_per_x_per_month": spec.trend_x,
            "earlier_waves_to_high_x": True,
            "spillover_radius_km": spec.reach_km, "distance_decay_km": spec.decay_km,
            "anticipation_months": 0, "hiring_ramp_months": spec.ramp_months,
            "eligibility": "parent of a child aged 43 days to 4 years; fathers' effects are "
                           f"{spec.father_share:g} of mothers'",
            "effects": {"female_hiring": spec.effect_female_hires, "retention_hazard": -spec.effect_retention,
                        "general_illness_spells": -spec.effect_absence},
            "seasonality": "hiring peaks in November, dips in January",
        },
    }


def _write_potential(folder: Path, potential: dict, e_id, cvegeo, months) -> None:
    """Both worlds' outcome components per unit and month: with CECI (``_1``) and without (``_0``).

    ``truth_employer_month.parquet``: workers at month end, general-illness incapacity days and separations;
    ``truth_mun_month.parquet``: women's jobs. Every estimand's truth is computed from these for exactly the
    sample, weights, exposure and aggregation of an estimate (:mod:`ceci_impact.truth`).
    """
    T = months.size
    emp = {"employer_id": np.repeat(e_id, T), "period": np.tile(months, e_id.size).astype(np.int64)}
    for name in ("workers", "eg_days", "separations"):
        a1, a0 = potential[name]
        emp[f"{name}_1"], emp[f"{name}_0"] = a1.ravel(), a0.ravel()
    pd.DataFrame(emp).to_parquet(folder / "truth_employer_month.parquet", index=False)
    f1, f0 = potential["women_jobs"]
    pd.DataFrame({"cvegeo": np.repeat(cvegeo, T), "period": np.tile(months, cvegeo.size).astype(np.int64),
                  "women_jobs_1": f1.ravel(), "women_jobs_0": f0.ravel()}).to_parquet(
        folder / "truth_mun_month.parquet", index=False)


def _cohort_att(y1, y0, coh, months, valid=None):
    """ATT(g, e): mean over units of cohort g of y1 - y0 at month g + e."""
    rows = []
    for g in np.unique(coh[coh > 0]):
        units = coh == g
        for ti, t in enumerate(months):
            d = y1[units, ti] - y0[units, ti]
            if valid is not None:
                d = d[valid[units, ti]]
            d = d[np.isfinite(d)]
            if d.size:
                rows.append({"cohort": int(g), "cohort_label": label(g), "event_time": int(t - g),
                             "att": float(d.mean()), "n_units": int(d.size)})
    return rows


def _summaries(rows):
    """Aggregates of ATT(g, e) mirroring Callaway–Sant'Anna's simple and dynamic aggregations."""
    df = pd.DataFrame(rows)
    if df.empty:
        return {"by_event_time": [], "overall_simple": None, "overall_dynamic": None}
    by_e = df.groupby("event_time")[["att", "n_units"]].apply(lambda d: np.average(d.att, weights=d.n_units))
    post = df[df.event_time >= 0]
    simple = float(np.average(post.att, weights=post.n_units)) if len(post) else None
    dyn = float(by_e[by_e.index >= 0].mean()) if (by_e.index >= 0).any() else None
    return {"by_event_time": [{"event_time": int(e), "att": float(v)} for e, v in by_e.items()],
            "overall_simple": simple, "overall_dynamic": dyn}


def _wage_bands(w):
    k = np.clip(np.ceil(w / MIN_WAGE), 1, 25).astype(int)
    u = np.clip(np.ceil(w / UMA), 1, 25).astype(int)
    return k, u


def _age_band(age):
    edges = np.array([15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75])
    return np.searchsorted(edges, age, side="right") + 1  # E1 < 15 ... E14 >= 75


def _write_asg(folder, rng, months, emp, female, s_eff, endm, birth_year, e_key, e_sec_i, e_band, keys,
               key_mun, states, say):
    """Aggregate month-end jobs into IMSS open-data files, one per month."""
    folder.mkdir(parents=True, exist_ok=True)
    N = emp.size
    wage = rng.lognormal(np.log(SECTOR_WAGE[e_sec_i[emp]]) - 0.12 * female, 0.45)
    wband, uband = _wage_bands(wage)
    jtype = rng.choice(4, N, p=[0.84, 0.13, 0.02, 0.01])
    key_idx = pd.Index(keys).get_indexer(e_key[emp])
    sec1 = SECTORS[e_sec_i[emp]]
    sec2 = sec1 * 10 + (emp % 7) + 1
    sec4 = sec2 * 100 + (emp % 13) + 1
    band_i = pd.Index([f"S{k}" for k in range(1, 8)]).get_indexer(e_band[emp]) + 1
    kstate = np.array([int(s) for s in states[key_mun]])
    deleg = kstate * 1 + 0
    sex = np.where(female, 2, 1)
    total = 0
    for t in months:
        act = (s_eff <= t) & (endm > t)
        idx = np.flatnonzero(act)
        year = t // 12
        age_b = _age_band(year - birth_year[idx])
        code = ((((((key_idx[idx] * 10 + sec1[idx]) * 100 + sec2[idx] % 100) * 10000 + sec4[idx] % 10000) * 8
                  + band_i[idx]) * 3 + sex[idx]) * 15 + age_b) * 26 * 26 + wband[idx] * 26 + uband[idx]
        ucode, inv = np.unique(code, return_inverse=True)
        nc = ucode.size
        ta = np.bincount(inv, minlength=nc)
        by_type = [np.bincount(inv[jtype[idx] == j], minlength=nc) for j in range(4)]
        inv_t = [inv[jtype[idx] == j] for j in range(4)]
        wsum_t = [np.bincount(inv_t[j], weights=wage[idx][jtype[idx] == j], minlength=nc) for j in range(4)]
        parts, rest = [], ucode.copy()
        for radix in (26, 26, 15, 3, 8, 10000, 100, 10):  # undo the mixed-radix cell code above
            parts.append(rest % radix)
            rest //= radix
        u_, w_, age_, sex_, sz_, s4_, s2_, s1_ = parts
        k_ = rest
        cells = pd.DataFrame({"k": k_})
        tab = pd.DataFrame({
            "cve_delegacion": deleg[k_].astype(str), "cve_subdelegacion": (k_ % 9 + 1).astype(str),
            "cve_entidad": np.char.zfill(kstate[k_].astype(str), 2), "cve_municipio": keys[k_],
            "sector_economico_1": s1_.astype(str), "sector_economico_2": (s1_ * 10 + s2_ % 10).astype(str),
            "sector_economico_4": ((s1_ * 10 + s2_ % 10) * 100 + s4_ % 100).astype(str),
            "tamaño_patron": np.char.add("S", sz_.astype(str)),
            "sexo": sex_.astype(str), "rango_edad": np.char.add("E", age_.astype(str)),
            "rango_salarial": np.char.add("W", w_.astype(str)), "rango_uma": np.char.add("UMA", u_.astype(str)),
            "asegurados": ta, "no_trabajadores": 0, "ta": ta,
        })
        jt = dict(enumerate(by_type))
        ms = dict(enumerate(wsum_t))
        for j, name in enumerate(["teu", "tec", "tpu", "tpc"]):
            tab[name] = jt[j]
        tab["ta_sal"] = tab["ta"]
        for name in ["teu", "tec", "tpu", "tpc"]:
            tab[f"{name}_sal"] = tab[name]
        tab["masa_sal_ta"] = sum(ms.values()).round(2)
        for j, name in enumerate(["teu", "tec", "tpu", "tpc"]):
            tab[f"masa_sal_{name}"] = ms[j].round(2)
        # insured persons without a job: ta = 0 and NA ranges
        jobs_by_key = np.bincount(cells.k, weights=ta, minlength=keys.size)
        nk = np.flatnonzero(jobs_by_key > 0)
        nt = rng.poisson(0.04 * jobs_by_key[nk] + 1)
        non = _key_rows(nk, deleg, kstate, keys)
        non["sexo"] = rng.choice(["1", "2"], nk.size)
        non["rango_edad"] = "E" + rng.integers(3, 12, nk.size).astype(str)
        non["rango_salarial"] = "NA"
        non["rango_uma"] = "NA"
        non["asegurados"] = nt
        non["no_trabajadores"] = nt
        non = non[nt > 0]  # a cell of nobody is not published (the draws above stay as they were)
        tab = pd.concat([tab, non], ignore_index=True)
        extended = t >= PLATFORM_BREAK
        if extended:  # platform workers (about 90 % men) enter, flagged by ptpd
            pk = nk[rng.random(nk.size) < 0.6]
            npl = rng.poisson(0.015 * jobs_by_key[pk] + 1)
            plat = _key_rows(pk, deleg, kstate, keys)
            plat["sector_economico_1"], plat["sector_economico_2"], plat["sector_economico_4"] = "7", "71", "7101"
            plat["tamaño_patron"] = "S7"
            plat["sexo"] = np.where(rng.random(pk.size) < 0.9, "1", "2")
            plat["rango_edad"] = "E4"
            plat["rango_salarial"], plat["rango_uma"] = "W2", "UMA5"
            plat["asegurados"] = npl
            plat["ta"] = plat["tpu"] = plat["ta_sal"] = plat["tpu_sal"] = npl
            plat["masa_sal_ta"] = plat["masa_sal_tpu"] = (npl * 450.0).round(2)
            tab["ptpd"] = "0"
            plat["ptpd"] = "1"
            tab = pd.concat([tab, plat], ignore_index=True)
            tab.insert(0, "periodo_informacion", label(t))
            pos = tab.columns.get_loc("rango_uma") + 1
            tab.insert(pos, "rango_ingreso_vsm", tab["rango_salarial"])
            tab.insert(pos + 1, "rango_ingreso_uma", tab["rango_uma"])
        # encodings and header variants as in the real releases
        i = int(t - months[0])
        header = list(tab.columns)
        encoding = "latin-1"
        if extended:
            encoding = "utf-8"
        if i == 1:
            header = [("tamaÃ±o_patron" if c == "tamaño_patron" else c) for c in header]
            encoding = "utf-8"
        elif i == 2:
            header = [("tama\ufffdo_patron" if c == "tamaño_patron" else c) for c in header]
            encoding = "utf-8-sig"
        last = (pd.Period(label(t), "M").end_time).strftime("%Y-%m-%d")
        tab.to_csv(folder / f"asg-{last}.csv", sep="|", index=False, header=header, encoding=encoding,
                   lineterminator="\n")
        total += len(tab)
    say(f"  wrote {months.size} asegurados files ({total:,} rows)")


def _key_rows(kidx, deleg, kstate, keys) -> pd.DataFrame:
    """Blank asg rows (text columns empty, counts zero) for the IMSS municipality keys ``kidx``."""
    rows = pd.DataFrame({c: "" for c in ASG_COLUMNS[:12]} | {c: 0 for c in ASG_COLUMNS[12:]}, index=range(kidx.size))
    rows["cve_delegacion"] = deleg[kidx].astype(str)
    rows["cve_subdelegacion"] = (kidx % 9 + 1).astype(str)
    rows["cve_entidad"] = [f"{s:02d}" for s in kstate[kidx]]
    rows["cve_municipio"] = keys[kidx]
    return rows


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
    m_lat = st_lat[states] + rng.normal(0, 0.7, n_m)
    m_lon = st_lon[states] + rng.normal(0, 0.7, n_m)
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
    intensity = np.where(np.isfinite(expo_d), np.exp(-expo_d / spec.decay_km), 0.0)
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
    r_max = 0.07
    act_from = np.maximum(s_eff, p0)
    act_to = np.minimum(endm1 - 1, p1)  # months active at month end within the window
    n_mon = np.maximum(act_to - act_from + 1, 0)
    n_ep = rng.poisson(r_max * n_mon)
    sp = np.repeat(np.arange(N), n_ep)
    ep_m = act_from[sp] + np.floor(rng.random(sp.size) * n_mon[sp]).astype(np.int64)
    elig_ep = (ep_m >= el_start[sp]) & (ep_m < el_end[sp])
    rate = 0.025 * np.where(female[sp], 1.3, 1.0) * np.where(elig_ep, 1.6, 1.0)
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
    n_rt = rng.poisson(0.004 * n_mon)
    sp_rt = np.repeat(np.arange(N), n_rt)
    rt_m = act_from[sp_rt] + np.floor(rng.random(sp_rt.size) * n_mon[sp_rt]).astype(np.int64)
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
    w.sp = sp
    w.sp_ma = sp_ma
    w.sp_rt = sp_rt


def _write_world(tmp: Path, w: SimpleNamespace, truth: dict, potential, size: str, seed: int) -> None:
    """Every source of the simulated world in its real format, the truth and the README, into ``tmp``."""
    spec, rng, p0, p1, w0, say = w.spec, w.rng, w.p0, w.p1, w.w0, w.say
    E = w.E
    N = w.N
    S = w.S
    birth_year = w.birth_year
    capacity = w.capacity
    child = w.child
    cvegeo = w.cvegeo
    e_band = w.e_band
    e_id = w.e_id
    e_key = w.e_key
    e_lat = w.e_lat
    e_lon = w.e_lon
    e_mun = w.e_mun
    e_sec_i = w.e_sec_i
    emp = w.emp
    end_day = w.end_day
    endm1 = w.endm1
    ep_day = w.ep_day
    ep_days = w.ep_days
    female = w.female
    is_open = w.is_open
    kept1 = w.kept1
    key_mun = w.key_mun
    keys = w.keys
    m_lat = w.m_lat
    m_lon = w.m_lon
    months = w.months
    n_m = w.n_m
    open_day = w.open_day
    opened = w.opened
    pole = w.pole
    rt_day = w.rt_day
    rt_days = w.rt_days
    s_eff = w.s_eff
    s_lat = w.s_lat
    s_lon = w.s_lon
    scheme = w.scheme
    site_mun = w.site_mun
    size_w = w.size_w
    sp = w.sp
    sp_ma = w.sp_ma
    sp_rt = w.sp_rt
    start_day = w.start_day
    states = w.states
    x_ind = w.x_ind
    _write_asg(tmp / "asegurados", rng, months, emp, female, s_eff, endm1, birth_year, e_key, e_sec_i, e_band,
               keys, key_mun, states, say)
    pd.DataFrame({
        "cve_municipio_imss": keys, "nombre_imss": [f"MUNICIPIO {k}" for k in keys],
        "descripcion_municipio": [f"MUNICIPIO {k}" for k in keys], "cvegeo_inegi": cvegeo[key_mun],
        "cve_ent_inegi": [c[:2] for c in cvegeo[key_mun]],
        "nombre_inegi": [f"Municipio {c}" for c in cvegeo[key_mun]],
    }).sort_values("cve_municipio_imss").to_csv(tmp / "crosswalk_imss_municipio_to_inegi.csv", index=False)
    women_pop = np.round(size_w / size_w.sum() * spec.jobs * 1.6 * rng.uniform(0.9, 1.1, n_m)).astype(int) + 500
    pd.DataFrame({
        "cvegeo": cvegeo, "nombre": [dict(POLES).get(k, f"Municipio {k}") for k in cvegeo],
        "cve_ent": [c[:2] for c in cvegeo], "lat": m_lat.round(5), "lon": m_lon.round(5),
        "mujeres_15_64": women_pop, "x_industrial": x_ind.round(6), "polo": pole,
    }).to_csv(tmp / "municipios.csv", index=False)
    pd.DataFrame({
        "site_id": [f"CECI-{i + 1:04d}" for i in range(S)],
        "name": [f"CECI {dict(POLES).get(cvegeo[m], 'Municipio ' + cvegeo[m])} {i + 1}" for i, m in enumerate(site_mun)],
        "scheme": scheme, "pole": pole[site_mun], "cvegeo": cvegeo[site_mun],
        "lat": s_lat.round(6), "lon": s_lon.round(6),
        "opening_date": np.where(opened, pd.DatetimeIndex(_dates(open_day)).strftime("%Y-%m-%d"), ""),
        "capacity": capacity,
    }).to_csv(tmp / "ceci_sites.csv", index=False)
    pd.DataFrame({
        "employer_id": e_id, "cvegeo": cvegeo[e_mun], "cve_municipio_imss": e_key, "lat": e_lat.round(6),
        "lon": e_lon.round(6), "sector": SECTORS[e_sec_i].astype(str), "size_band": e_band,
    }).to_parquet(tmp / "employers.parquet", index=False)
    wid = np.array([f"T{k:010d}" for k in rng.permutation(N) * 7919 % 10**10])
    pd.DataFrame({
        "worker_id": wid, "employer_id": e_id[emp], "start": _dates(start_day),
        "end": pd.Series(_dates(end_day)).where(~is_open), "sex": np.where(female, 2, 1).astype(np.int8),
        "birth_year": birth_year, "child_birth": pd.Series(_dates(np.maximum(child, 0))).where(child >= 0),
    }).to_parquet(tmp / "job_spells.parquet", index=False)
    inc = pd.concat([
        pd.DataFrame({"worker_id": wid[sp[kept1]], "employer_id": e_id[emp[sp[kept1]]],
                      "start": _dates(ep_day[kept1]), "days": ep_days[kept1], "branch": "enfermedad_general"}),
        pd.DataFrame({"worker_id": wid[sp_rt], "employer_id": e_id[emp[sp_rt]], "start": _dates(rt_day),
                      "days": rt_days, "branch": "riesgo_trabajo"}),
        pd.DataFrame({"worker_id": wid[sp_ma], "employer_id": e_id[emp[sp_ma]],
                      "start": _dates(child[sp_ma] - 42), "days": 84, "branch": "maternidad"}),
    ], ignore_index=True)
    inc["days"] = inc["days"].astype(np.int32)
    inc.sort_values(["start", "worker_id"]).to_parquet(tmp / "incapacidades.parquet", index=False)
    truth["world"] = {"size": size, "seed": seed, "spec": asdict(spec), "window": [label(p0), label(p1)],
                      "first_wave": label(w0), "n_spells": int(N), "n_employers": int(E),
                      "n_municipalities": int(n_m), "n_sites": int(S), "n_sites_opened": int(opened.sum()),
                      "simulated": True,
                      "generated_by": "ceci_impact.synthetic.simulate"}
    (tmp / "truth.json").write_text(json.dumps(truth, indent=1))
    _write_potential(tmp, potential, e_id, cvegeo, months)
    (tmp / "README.md").write_text(
        f"SIMULATED data (ceci_impact.synthetic, size={size}, seed={seed}); not real IMSS records.\n"
    )
