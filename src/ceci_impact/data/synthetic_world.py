"""The simulated world's fixed facts (sizes, sectors, poles, waves) and its calendar and random-draw
helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

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
    """Size and behaviour of a simulated world; effects are relative magnitudes.

    Parameters
    ----------
    n_mun : int
        Number of municipalities.
    n_employers : int
        Number of employers.
    jobs : int
        Number of jobs (the employers' total initial headcount).
    months : int
        Number of months simulated.
    n_sites : int
        Number of CECI sites.
    separation : float
        Monthly separation hazard of a typical worker.
    effect_female_hires : float
        Proportional rise in women's hiring at a site (distance 0).
    effect_retention : float
        Proportional fall in eligible mothers' separation hazard.
    effect_absence : float
        Proportional fall in eligible parents' general-illness spells.
    father_share : float
        Fathers' effects relative to mothers'.
    decay_km : float
        Effects decay as ``exp(-distance / decay_km)``.
    reach_km : float
        No effect beyond this distance in km (the spill-over radius).
    ramp_months : int
        Months after which the hiring effect reaches full size.
    selection : float
        Log-odds of a CECI per unit of ``x_industrial``.
    trend_x : float
        Monthly employment growth per unit of ``x_industrial``.
    extra : dict
        Further settings; the effect stages read ``spillover_effect``, ``dose_slope`` and ``spillover_from_km``
        from it when the fields are absent.
    spillover_effect : float
        Effect beyond ``spillover_from_km`` relative to the distance decay (0: none).
    dose_slope : float
        Elasticity of the effect to the site's places per 100 eligible parents (0: none).
    spillover_from_km : float
        Treated radius in km: spill-overs are the effects beyond it.
    """

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
    spillover_effect: float = 1.0  # effect beyond spillover_from_km relative to the distance decay (0: none)
    dose_slope: float = 0.5  # elasticity of the effect to the site's places per 100 eligible parents (0: none)
    spillover_from_km: float = 3.0  # treated radius: spill-overs are the effects beyond it


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
