"""Correlated shocks of the simulated world: what makes clustering matter.

Real labour markets move together: a municipality's hiring follows a local demand cycle that lasts for months and
that its neighbours share; the employers around one industrial site (a park, a pole) share a sub-local cycle; an
influenza season raises sick leave across a region for weeks; a sector's wages move with its own cycle. Without
such shocks every unit-level draw is independent given the unit's trend, and no Monte Carlo can tell whether a
clustered interval is right. This module draws them (all log-scale multipliers with mean one, so the calibrated
levels of hiring, separations, sick leave and wages are unchanged on average):

- ``demand[e, t]`` (employer × month): a municipality × month field, serially correlated (stationary AR(1) over
  months) and correlated across municipalities (innovations with correlation ``(1 - s) exp(-d / spatial_km) +
  s 1[same state]``, ``d`` the distance between centroids: an exponential kernel, positive definite for
  great-circle distances, plus a state component) + a site × month field shared by the employers within
  ``site_km`` of the same CECI site (opened or not: sites are placed where employers cluster) + an employer ×
  month field. It multiplies the hiring rate and, with loading ``separation_loading`` (negative: more demand,
  fewer separations), the monthly separation hazard; women's jobs move through both.
- ``absence[e, t]``: the same three-level structure with its own fields and sizes (a regional epidemic component,
  a site component, an employer component); it multiplies the rate of general-illness and work-risk incapacity
  certificates (the Poisson rates of both, by thinning).
- ``wage[e, t]``: a sector × month AR(1) field (independent between sectors) plus the municipality demand field
  with loading ``wage_mun_loading``; it multiplies every job's daily wage in that month.

A pole is one municipality in the simulated world (:data:`ceci_impact.data.synthetic_world.POLES`), so its
shock is that municipality's component, shared by all its sites' employers.

The shocks are drawn from their own generator (seeded from the world's seed), so the world's other random
numbers are the same with or without them, and every shock enters both potential worlds alike: the effects stay
exactly known (the truth is the estimator applied to ``D·tau``, :mod:`ceci_impact.data.truth`). With every size
set to zero (``Shocks.none()``) the world is the independent world of earlier versions, file for file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from .._options import CeciError
from ..geo import haversine_km


@dataclass(frozen=True)
class Shocks:
    """Sizes of the simulated world's correlated shocks (SDs of log multipliers; AR(1) coefficients per month).

    Defaults are judgement calibrations documented in ``docs/simulator.md`` (with the correlations they produce,
    measured by ``benchmarks/simulator_correlation.py``); ``Shocks.none()`` switches every shock off.

    Parameters
    ----------
    mun_sd, mun_rho
        Municipality labour-demand shock: SD and monthly AR(1) coefficient.
    spatial_km
        Range of the exponential spatial kernel between municipality centroids (km).
    state_share
        Share of the municipality innovations' variance common to all municipalities of a state.
    site_sd, site_rho
        Shock shared by the employers within ``site_km`` of the same CECI site (nearest site).
    site_km
        Radius of a site's cluster of employers (km).
    employer_sd, employer_rho
        Employer-specific demand shock.
    separation_loading
        Loading of the separation hazard's log on the demand shock (negative: demand keeps workers).
    absence_mun_sd, absence_mun_rho, absence_site_sd, absence_site_rho, absence_employer_sd, absence_employer_rho
        The incapacity-rate shocks (regional epidemics, site, employer), same structure as the demand shocks.
    wage_sector_sd, wage_sector_rho
        Sector-wide wage shock (independent between the nine IMSS sectors).
    wage_mun_loading
        Loading of the log wage on the municipality demand shock.
    """

    mun_sd: float = 0.25
    mun_rho: float = 0.85
    spatial_km: float = 75.0
    state_share: float = 0.3
    site_sd: float = 0.15
    site_rho: float = 0.7
    site_km: float = 5.0
    employer_sd: float = 0.20
    employer_rho: float = 0.6
    separation_loading: float = -0.5
    absence_mun_sd: float = 0.25
    absence_mun_rho: float = 0.7
    absence_site_sd: float = 0.15
    absence_site_rho: float = 0.6
    absence_employer_sd: float = 0.25
    absence_employer_rho: float = 0.5
    wage_sector_sd: float = 0.02
    wage_sector_rho: float = 0.9
    wage_mun_loading: float = 0.1

    @classmethod
    def none(cls) -> Shocks:
        """Every shock switched off: the independent world."""
        return replace(cls(), mun_sd=0.0, site_sd=0.0, employer_sd=0.0, absence_mun_sd=0.0, absence_site_sd=0.0,
                       absence_employer_sd=0.0, wage_sector_sd=0.0, wage_mun_loading=0.0)

    @property
    def active(self) -> bool:
        """Whether any shock is non-zero."""
        return any(getattr(self, f) != 0 for f in ("mun_sd", "site_sd", "employer_sd", "absence_mun_sd",
                                                   "absence_site_sd", "absence_employer_sd", "wage_sector_sd"))

    def to_dict(self) -> dict:
        """The knobs as a plain dictionary (recorded in ``truth.json``)."""
        return asdict(self)


def as_shocks(shocks: Shocks | dict | str | None) -> Shocks:
    """``None`` → the defaults; ``"none"`` → every shock off; a dict → the defaults with these knobs replaced.

    Parameters
    ----------
    shocks
        A :class:`Shocks`, a dict of knob overrides (or the same as ``"knob=value,knob=value"``), ``"none"``,
        ``"default"`` or ``None``.
    """
    if shocks is None or shocks == "default":
        return Shocks()
    if isinstance(shocks, str) and "=" in shocks:  # "mun_sd=0.3,site_sd=0" (the command line's form)
        pairs = [p.split("=", 1) for p in shocks.split(",") if p.strip()]
        try:
            shocks = {k.strip(): float(v) for k, v in pairs}
        except ValueError:
            raise CeciError(f"shocks={shocks!r}: expected KNOB=NUMBER pairs separated by commas") from None
    if isinstance(shocks, Shocks):
        out = shocks
    elif shocks == "none":
        return Shocks.none()
    elif isinstance(shocks, dict):
        known = {f.name for f in fields(Shocks)}
        bad = sorted(set(shocks) - known)
        if bad:
            raise CeciError(f"shocks: unknown knob(s) {', '.join(bad)}; expected some of {', '.join(sorted(known))}")
        out = replace(Shocks(), **{k: float(v) for k, v in shocks.items()})
    else:
        raise CeciError(f"shocks={shocks!r}: expected a Shocks, a dict of knobs, 'knob=value,…', 'none', 'default' "
                        "or None")
    for f in fields(Shocks):
        v = getattr(out, f.name)
        if not np.isfinite(v):
            raise CeciError(f"shocks: {f.name}={v} is not a finite number")
        if f.name.endswith("_rho") and not -1 < v < 1:
            raise CeciError(f"shocks: {f.name}={v}; an AR(1) coefficient must lie in (-1, 1)")
        if (f.name.endswith("_sd") or f.name.endswith("_km") or f.name == "state_share") and v < 0:
            raise CeciError(f"shocks: {f.name}={v}; expected a value >= 0")
    if out.state_share > 1:
        raise CeciError(f"shocks: state_share={out.state_share}; expected a share in [0, 1]")
    return out


def ar1(rng: np.random.Generator, n: int, T: int, rho: float, chol: np.ndarray | None = None) -> np.ndarray:
    """``n`` stationary unit-variance AR(1) series of length ``T`` (``n × T``), innovations correlated across
    series by ``chol`` (a Cholesky factor of their correlation matrix) when given.

    Parameters
    ----------
    rng
        The generator.
    n, T
        Number of series and of months.
    rho
        AR(1) coefficient.
    chol
        Lower-triangular ``n × n`` factor of the innovations' correlation matrix, or ``None`` (independent).
    """
    e = rng.standard_normal((T, n))
    if chol is not None:
        e = e @ chol.T
    out = np.empty((n, T))
    x = e[0]  # the stationary distribution at the first month
    out[:, 0] = x
    k = np.sqrt(1 - rho * rho)
    for t in range(1, T):  # over months (a few dozen), vectorised over series
        x = rho * x + k * e[t]
        out[:, t] = x
    return out


def municipality_correlation(lat: np.ndarray, lon: np.ndarray, state: np.ndarray, spatial_km: float,
                             state_share: float) -> np.ndarray:
    """Correlation of municipality shocks: ``(1 - s) exp(-d / spatial_km) + s 1[same state]``.

    Parameters
    ----------
    lat, lon
        Municipality centroids (degrees).
    state
        State code of each municipality.
    spatial_km
        Range of the exponential kernel (0: no spatial component beyond the state).
    state_share
        Weight ``s`` of the state component.
    """
    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    k = np.exp(-d / spatial_km) if spatial_km > 0 else np.eye(lat.size)
    return (1 - state_share) * k + state_share * (state[:, None] == state[None, :])


def _chol(c: np.ndarray) -> np.ndarray:
    """A factor ``L`` with ``L Lᵀ = c`` (Cholesky with a tiny ridge; eigen-decomposition if that fails)."""
    try:
        return np.linalg.cholesky(c + 1e-10 * np.eye(c.shape[0]))
    except np.linalg.LinAlgError:
        v, q = np.linalg.eigh(c)
        return q * np.sqrt(np.clip(v, 0, None))


def nearest_site(e_lat, e_lon, s_lat, s_lon, radius_km: float) -> np.ndarray:
    """Index of each employer's nearest site within ``radius_km`` (-1: none), in chunks of 20,000 employers.

    Parameters
    ----------
    e_lat, e_lon
        Employer coordinates.
    s_lat, s_lon
        Site coordinates.
    radius_km
        The site cluster's radius.
    """
    out = np.full(e_lat.size, -1, dtype=np.int64)
    if s_lat.size == 0:
        return out
    for c in range(0, e_lat.size, 20000):
        d = haversine_km(e_lat[c:c + 20000, None], e_lon[c:c + 20000, None], s_lat[None, :], s_lon[None, :])
        j = d.argmin(1)
        out[c:c + 20000] = np.where(d[np.arange(j.size), j] <= radius_km, j, -1)
    return out


def _three_level(rng, chol, n_m, S, E, T, e_mun, e_site, sds, rhos) -> np.ndarray:
    """Employer × month sum of a municipality, a site and an employer AR(1) field with SDs ``sds``."""
    (m_sd, s_sd, e_sd), (m_rho, s_rho, e_rho) = sds, rhos
    z = np.zeros((E, T))
    if m_sd:
        z += m_sd * ar1(rng, n_m, T, m_rho, chol)[e_mun]
    if s_sd and S:
        site = ar1(rng, S, T, s_rho)
        z += s_sd * np.where((e_site >= 0)[:, None], site[np.maximum(e_site, 0)], 0.0)
    if e_sd:
        z += e_sd * ar1(rng, E, T, e_rho)
    return z


def draw_shocks(w, shocks: Shocks, seed: int) -> None:
    """Simulation stage: the correlated shocks (adds ``demand``, ``absence``, ``wage_f``, ``mun_demand``,
    ``e_site`` and ``shocks`` to the world ``w``; nothing when every shock is off).

    ``demand`` and ``absence`` are employer × month log multipliers centred so that ``exp`` has mean one;
    ``wage_f`` is the employer × month wage multiplier. They come from a generator of their own
    (``default_rng([seed, 24])``), so the world's other draws do not depend on them.

    Parameters
    ----------
    w
        The world being simulated (needs municipalities, employers, sites and the calendar).
    shocks
        The knobs.
    seed
        The world's seed.
    """
    w.shocks = shocks
    w.demand = w.absence = w.wage_f = w.mun_demand = w.sep_log = w.shock_rng = None
    w.e_site = nearest_site(w.e_lat, w.e_lon, w.s_lat, w.s_lon, shocks.site_km)
    if not shocks.active:
        return
    rng = w.shock_rng = np.random.default_rng([seed, 24])
    T, n_m, E, S = w.p1 - w.p0 + 1, w.n_m, w.E, w.S
    chol = _chol(municipality_correlation(w.m_lat, w.m_lon, w.states, shocks.spatial_km, shocks.state_share))
    sh = shocks
    mun = ar1(rng, n_m, T, sh.mun_rho, chol) if sh.mun_sd else np.zeros((n_m, T))
    dem = sh.mun_sd * mun[w.e_mun] + _three_level(rng, None, n_m, S, E, T, w.e_mun, w.e_site,
                                                  (0.0, sh.site_sd, sh.employer_sd), (0.0, sh.site_rho, sh.employer_rho))
    near = w.e_site >= 0
    var_d = sh.mun_sd**2 + sh.site_sd**2 * near + sh.employer_sd**2  # per employer (the site part only near a site)
    w.demand = dem - var_d[:, None] / 2
    w.sep_log = sh.separation_loading * dem - sh.separation_loading**2 * var_d[:, None] / 2
    ab = _three_level(rng, chol, n_m, S, E, T, w.e_mun, w.e_site,
                      (sh.absence_mun_sd, sh.absence_site_sd, sh.absence_employer_sd),
                      (sh.absence_mun_rho, sh.absence_site_rho, sh.absence_employer_rho))
    var_a = sh.absence_mun_sd**2 + sh.absence_site_sd**2 * near + sh.absence_employer_sd**2
    w.absence = ab - var_a[:, None] / 2
    sector = ar1(rng, 9, T, sh.wage_sector_rho) if sh.wage_sector_sd else np.zeros((9, T))
    lw = sh.wage_sector_sd * sector[w.e_sec_i] + sh.wage_mun_loading * sh.mun_sd * mun[w.e_mun]
    w.wage_f = np.exp(lw - (sh.wage_sector_sd**2 + (sh.wage_mun_loading * sh.mun_sd) ** 2) / 2)
    w.mun_demand = sh.mun_sd * mun


def shocked_duration(L, s, a, b, c0, c1, F, emp, p0: int, p1: int, piecewise) -> np.ndarray:
    """Months survived after start month ``s`` when the monthly cumulative hazard is multiplied by a month-varying
    employer factor ``f`` (inside the window; 1 outside): the first month ``u > s`` at which the accumulated
    hazard ``Σ_{v=s+1..u} c(v) f(v)`` exceeds ``L``, ``c = c1`` in months ``[a, b)`` and ``c0`` otherwise.

    Common random numbers as in the constant case: with the same ``L`` and ``F``, ``c1 <= c0`` gives a weakly
    longer spell. Vectorised bisection over months within the window, then the closed form (``piecewise``) for
    the months after it.

    Parameters
    ----------
    L
        Exponential draws (one per spell).
    s, a, b
        Start month, first treated month and first month after the treated span, per spell.
    c0, c1
        Untreated and treated monthly cumulative hazards, per spell.
    F
        Employer × (months + 1) cumulative sums of ``f`` over the window (column 0: zero, before ``p0``).
    emp
        Employer of each spell.
    p0, p1
        First and last month of the window.
    piecewise
        The constant-hazard closed form (``synthetic_world._piecewise_duration``).
    """
    T = p1 - p0 + 1
    a2 = np.maximum(a, s + 1)
    b2 = np.maximum(b, a2)

    def cum(u):  # cumulative factor through month u (u from p0 - 1; beyond p1 it stays at p1's)
        return F[emp, np.clip(u - p0 + 1, 0, T)]

    base_s, base_a = cum(s), cum(a2 - 1)

    def H(u):  # hazard accumulated over months s+1..u, u <= p1
        return c0 * (cum(u) - base_s) + (c1 - c0) * (cum(np.clip(u, a2 - 1, b2 - 1)) - base_a)

    h_end = H(np.full(s.shape, p1, dtype=np.int64))
    inside = h_end > L
    lo, hi = s.copy(), np.full(s.shape, p1, dtype=np.int64)
    while True:
        act = inside & (hi - lo > 1)
        if not act.any():
            break
        mid = (lo + hi) // 2
        cond = H(mid) > L
        hi = np.where(act & cond, mid, hi)
        lo = np.where(act & ~cond, mid, lo)
    after = p1 - s + piecewise(np.maximum(L - h_end, 0.0), np.full(s.shape, p1, dtype=np.int64),
                               np.maximum(a2, p1 + 1), np.maximum(b2, p1 + 1), c0, c1)
    return np.where(inside, hi - s, after).astype(np.int64)


# ---------------------------------------------------------------------------------------------- diagnostics
def _two_way_residuals(x: np.ndarray) -> np.ndarray:
    """Residuals of a units × months matrix after unit and month means (rows with a missing value dropped)."""
    x = x[np.isfinite(x).all(1)]
    return x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + x.mean()


def _icc(r: np.ndarray, group: np.ndarray) -> float:
    """Intra-cluster correlation of residuals ``r`` (flat) within ``group`` (flat labels): the mean product of
    distinct pairs in the same group over the variance (pairs-based ANOVA-free estimator)."""
    _, g = np.unique(group, return_inverse=True)
    s, q, n = np.bincount(g, r), np.bincount(g, r * r), np.bincount(g)
    pairs = float((n * (n - 1)).sum())
    if pairs == 0:
        return float("nan")
    return float((s * s - q).sum() / pairs / np.mean(r * r))


def _serial(r: np.ndarray) -> float:
    """Pooled lag-1 correlation of the rows of a units × months residual matrix."""
    a, b = r[:, 1:].ravel(), r[:, :-1].ravel()
    return float(np.corrcoef(a, b)[0, 1])


def correlation_diagnostics(raw, min_workers: int = 20) -> dict:
    """The correlations the shocks create, measured on a simulated world's untreated outcomes ``y(0)``.

    - municipality employment growth (monthly change in log women's jobs without CECI; residuals after
      municipality and month means): pooled lag-1 serial correlation, the mean correlation of two municipalities'
      series when their centroids are within 100 km and when they are 500 km or more apart, and the intra-cluster
      correlation within state × month;
    - employer absenteeism (general-illness days per worker-month without CECI, employers with at least
      ``min_workers`` workers in the first month; residuals after employer and month means): serial correlation and
      intra-cluster correlations within site cluster × month (employers within ``site_km`` of the same site, as the
      simulator groups them) and within municipality × month;
    - employer separation rate (same sample): intra-cluster correlation within site cluster × month.

    Parameters
    ----------
    raw
        A simulated world's folder (``truth_*_month.parquet``, ``employers.parquet``, ``municipios.csv``,
        ``ceci_sites.csv``, ``truth.json``).
    min_workers
        Smallest first-month workforce of an employer in the absenteeism sample.

    Returns
    -------
    dict
        The statistics named above (floats).
    """
    import json
    from pathlib import Path

    import pandas as pd

    raw = Path(raw)
    knobs = (json.loads((raw / "truth.json").read_text())["world"].get("shocks") or {})
    site_km = knobs.get("site_km", Shocks().site_km)
    mun = pd.read_csv(raw / "municipios.csv", dtype={"cvegeo": str, "cve_ent": str})
    mm = pd.read_parquet(raw / "truth_mun_month.parquet")
    y = mm.pivot(index="cvegeo", columns="period", values="women_jobs_0").reindex(mun.cvegeo)
    with np.errstate(divide="ignore"):
        grow = np.diff(np.log(y.to_numpy(float)), axis=1)
    ok = np.isfinite(grow).all(1)
    r = _two_way_residuals(grow)
    lat, lon = mun.lat.to_numpy()[ok], mun.lon.to_numpy()[ok]
    c = np.corrcoef(r)
    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    off = ~np.eye(lat.size, dtype=bool)
    state = np.repeat(mun.cve_ent.to_numpy()[ok], r.shape[1])
    cell = np.char.add(state.astype(str), np.tile(np.arange(r.shape[1]), lat.size).astype(str).astype("<U4"))
    out = {"mun_growth_serial": _serial(r),
           "mun_growth_corr_within_100km": float(c[off & (d <= 100)].mean()),
           "mun_growth_corr_beyond_500km": float(c[off & (d >= 500)].mean()),
           "mun_growth_icc_state_month": _icc(r.ravel(), cell)}
    em = pd.read_parquet(raw / "truth_employer_month.parquet")
    emp = pd.read_parquet(raw / "employers.parquet")
    sites = pd.read_csv(raw / "ceci_sites.csv")
    w = em.pivot(index="employer_id", columns="period", values="workers_0").reindex(emp.employer_id)
    keep = (w.iloc[:, 0] >= min_workers).to_numpy() & (w.to_numpy() > 0).all(1)
    site = nearest_site(emp.lat.to_numpy(), emp.lon.to_numpy(), sites.lat.to_numpy(), sites.lon.to_numpy(),
                        site_km)
    for name, num, lag in (("absence", "eg_days_0", False), ("separation", "separations_0", True)):
        v = em.pivot(index="employer_id", columns="period", values=num).reindex(emp.employer_id).to_numpy(float)
        v, den = v[keep], w.to_numpy(float)[keep]  # kept employers: workers in every month
        rate = v[:, 1:] / den[:, :-1] if lag else v / den
        rr = _two_way_residuals(rate)
        T = rr.shape[1]
        months = np.tile(np.arange(T), rr.shape[0])
        s_k = site[keep]
        near = np.repeat(s_k >= 0, T)
        out[f"{name}_serial"] = _serial(rr)
        out[f"{name}_icc_site_month"] = _icc(rr.ravel()[near], (np.repeat(s_k, T) * 1000 + months)[near])
        if name == "absence":
            m_k = pd.factorize(emp.cvegeo)[0][keep]
            out["absence_icc_mun_month"] = _icc(rr.ravel(), np.repeat(m_k, T) * 1000 + months)
    out["n_employers"] = int(keep.sum())
    out["n_municipalities"] = int(ok.sum())
    return out
