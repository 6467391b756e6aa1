"""Writing a simulated world: every source in its real format, and the truth of both worlds."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..calendar import label
from ..geo import haversine_km
from .synthetic_world import (
    ASG_COLUMNS,
    MIN_WAGE,
    PLATFORM_BREAK,
    POLES,
    SECTOR_WAGE,
    SECTORS,
    UMA,
    _dates,
)


def _truth(spec, p0, months, E, emp, female, s_eff, endm1, endm0, kind, sp, ep_m, ep_days, kept1, kept0,
           e_mun, e_lat, e_lon, s_lat, s_lon, open_p, opened, n_m, site_mun, ring_km: float = 3.0,
           rt: tuple | None = None) -> dict:
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
    # work-risk days: CECI has no direct effect on them; without CECI a certificate exists only inside the
    # spell's no-CECI length and never for a worker hired because of a CECI (as general illness above)
    R1, R0 = np.zeros((E, T)), np.zeros((E, T))
    if rt is not None:
        sp_rt, rt_m, rt_days = rt
        keep0 = (rt_m < endm0[sp_rt]) & real[sp_rt]
        np.add.at(R1, (emp[sp_rt], rt_m - p0), rt_days)
        np.add.at(R0, (emp[sp_rt[keep0]], rt_m[keep0] - p0), rt_days[keep0])

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
    potential = {"workers": (W1, W0), "eg_days": (A1, A0), "separations": (S1, S0), "rt_days": (R1, R0),
                 "women_jobs": (Fm1, Fm0)}
    return potential_truth_dict(spec, outcomes), potential


def potential_truth_dict(spec, outcomes) -> dict:
    """``truth.json``: the design facts and the fixed-ring summaries (the estimand truths come from
    ``truth_*_month.parquet``, see :mod:`ceci_impact.data.truth`).

    Parameters
    ----------
    spec : WorldSpec
        The world's specification.
    outcomes : dict
        The outcomes' descriptions recorded in ``truth.json``.
    """
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

    ``truth_employer_month.parquet``: workers at month end, general-illness and work-risk incapacity days and
    separations; ``truth_mun_month.parquet``: women's and men's jobs and their daily wage mass (platform workers
    apart, as in the panels). Every estimand's truth is computed from these for exactly the sample, weights,
    exposure and aggregation of an estimate (:mod:`ceci_impact.data.truth`).
    """
    T = months.size
    emp = {"employer_id": np.repeat(e_id, T), "period": np.tile(months, e_id.size).astype(np.int64)}
    for name in ("workers", "eg_days", "separations", "rt_days"):
        a1, a0 = potential[name]
        emp[f"{name}_1"], emp[f"{name}_0"] = a1.ravel(), a0.ravel()
    pd.DataFrame(emp).to_parquet(folder / "truth_employer_month.parquet", index=False)
    mun = {"cvegeo": np.repeat(cvegeo, T), "period": np.tile(months, cvegeo.size).astype(np.int64)}
    for name in ("women_jobs", "men_jobs", "wage_mass_women", "wage_mass_men"):
        if name in potential:
            a1, a0 = potential[name]
            mun[f"{name}_1"], mun[f"{name}_0"] = a1.ravel(), a0.ravel()
    pd.DataFrame(mun).to_parquet(folder / "truth_mun_month.parquet", index=False)


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
               key_mun, states, say, counterfactual: tuple | None = None, wage_f: np.ndarray | None = None) -> dict:
    """Aggregate month-end jobs into IMSS open-data files, one per month.

    With ``counterfactual = (endm0, real, e_mun, n_m)`` also returns both worlds' men's jobs and women's and men's
    daily wage mass per municipality and month (``{name: (with CECI, without)}``, arrays municipalities × months):
    each job keeps its wage up to the month's wage shock ``wage_f`` (employer × month multiplier, the same in both
    worlds; ``None``: no shock), so CECI moves the average wage only through who holds a job.
    """
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
    pot = _wage_potential(months, emp, female, s_eff, endm, wage, counterfactual, wage_f)
    for t in months:
        act = (s_eff <= t) & (endm > t)
        idx = np.flatnonzero(act)
        year = t // 12
        age_b = _age_band(year - birth_year[idx])
        if wage_f is None:
            wage_t, wb_t, ub_t = wage[idx], wband[idx], uband[idx]
        else:  # this month's wages: each job's wage times its sector's and municipality's wage shock
            wage_t = wage[idx] * wage_f[emp[idx], t - months[0]]
            wb_t, ub_t = _wage_bands(wage_t)
        code = ((((((key_idx[idx] * 10 + sec1[idx]) * 100 + sec2[idx] % 100) * 10000 + sec4[idx] % 10000) * 8
                  + band_i[idx]) * 3 + sex[idx]) * 15 + age_b) * 26 * 26 + wb_t * 26 + ub_t
        ucode, inv = np.unique(code, return_inverse=True)
        nc = ucode.size
        ta = np.bincount(inv, minlength=nc)
        by_type = [np.bincount(inv[jtype[idx] == j], minlength=nc) for j in range(4)]
        inv_t = [inv[jtype[idx] == j] for j in range(4)]
        wsum_t = [np.bincount(inv_t[j], weights=wage_t[jtype[idx] == j], minlength=nc) for j in range(4)]
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
    return pot


def _wage_potential(months, emp, female, s_eff, endm, wage, counterfactual, wage_f=None) -> dict:
    """Men's jobs and women's and men's wage mass by municipality × month, with CECI and without (the month's wage
    shock ``wage_f`` applies in both worlds)."""
    if counterfactual is None:
        return {}
    endm0, real, e_mun, n_m = counterfactual
    mun = e_mun[emp]
    out = {k: (np.zeros((n_m, months.size)), np.zeros((n_m, months.size)))
           for k in ("men_jobs", "wage_mass_women", "wage_mass_men")}
    base_wage = wage
    for ti, t in enumerate(months):
        wage = base_wage if wage_f is None else base_wage * wage_f[emp, ti]
        for world, act in enumerate(((s_eff <= t) & (endm > t), (s_eff <= t) & (endm0 > t) & real)):
            for name, sel, wts in (("men_jobs", ~female, None), ("wage_mass_women", female, wage),
                                   ("wage_mass_men", ~female, wage)):
                m = act & sel
                out[name][world][:, ti] = np.bincount(mun[m], weights=None if wts is None else wts[m], minlength=n_m)
    return out


def _key_rows(kidx, deleg, kstate, keys) -> pd.DataFrame:
    """Blank asg rows (text columns empty, counts zero) for the IMSS municipality keys ``kidx``."""
    rows = pd.DataFrame({c: "" for c in ASG_COLUMNS[:12]} | {c: 0 for c in ASG_COLUMNS[12:]}, index=range(kidx.size))
    rows["cve_delegacion"] = deleg[kidx].astype(str)
    rows["cve_subdelegacion"] = (kidx % 9 + 1).astype(str)
    rows["cve_entidad"] = [f"{s:02d}" for s in kstate[kidx]]
    rows["cve_municipio"] = keys[kidx]
    return rows


def _write_world(tmp: Path, w: SimpleNamespace, truth: dict, potential, size: str, seed: int) -> None:
    """Every source of the simulated world in its real format, the truth and the notice (SIMULATED.md), into ``tmp``."""
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
    potential = potential | _write_asg(tmp / "asegurados", rng, months, emp, female, s_eff, endm1, birth_year, e_key,
                                       e_sec_i, e_band, keys, key_mun, states, say,
                                       counterfactual=(w.endm0, w.kind != 2, e_mun, n_m),
                                       wage_f=getattr(w, "wage_f", None))
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
                      "simulated": True, "shocks": w.shocks.to_dict() if getattr(w, "shocks", None) else None,
                      "generated_by": "ceci_impact.data.synthetic.simulate"}
    (tmp / "truth.json").write_text(json.dumps(truth, indent=1))
    _write_potential(tmp, potential, e_id, cvegeo, months)
    (tmp / "SIMULATED.md").write_text(
        f"SIMULATED data (ceci_impact.data.synthetic, size={size}, seed={seed}); not real IMSS records.\n"
    )
