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
after opening and decay with distance to the site; employment is seasonal; hiring, separations,
sick leave and wages carry correlated shocks (serially and spatially correlated municipality shocks,
shocks shared around a site, sector wage shocks: :mod:`ceci_impact.data.synthetic_shocks`), so that
clustering matters as it does in real labour markets.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .._options import CeciError, check_option
from ..calendar import label, last_complete_month, parse_month
from ..io import atomic_dir, log
from .synthetic_shocks import Shocks, as_shocks, draw_shocks
from .synthetic_stages import (
    _stage_certificates,
    _stage_employers,
    _stage_exposure,
    _stage_jobs,
    _stage_municipalities,
    _stage_sites,
)
from .synthetic_world import DEFAULT_END, POLES, SIZES, WAVES, Size, WorldSpec
from .synthetic_write import _truth, _write_world, potential_truth_dict

__all__ = ["simulate", "shock_fields", "Shocks", "potential_truth_dict", "DEFAULT_END", "POLES", "SIZES", "WAVES",
           "Size", "WorldSpec"]


def simulate(
    size: Size = "default",
    seed: int = 2026,
    out: str | Path = "data/raw",
    *,
    end: str | None = None,
    first_wave: str | None = None,
    quiet: bool = False,
    shocks: Shocks | dict | str | None = None,
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
    shocks
        The correlated shocks (:class:`~ceci_impact.data.synthetic_shocks.Shocks`): ``None`` (default) the
        documented realistic sizes (docs/simulator.md) — municipality × month labour-demand shocks, AR(1) over
        months and spatially correlated between municipalities (exponential kernel on centroids plus a state
        component), shocks shared by the employers around a CECI site, employer shocks, the same three levels for
        incapacity rates, and sector-wide wage shocks; a dict replaces some knobs (e.g. ``{"mun_rho": 0.5}``);
        ``"none"`` (or ``Shocks.none()``) switches them off and gives the independent world of earlier versions
        (the same files; ``truth.json`` records the knobs).

    Returns
    -------
    Path
        The output folder.
    """
    t_start = time.perf_counter()
    w = _world_with_shocks(size, seed, end=end, first_wave=first_wave, quiet=quiet, shocks=shocks)
    _stage_jobs(w)
    _stage_certificates(w)
    spec, p0 = w.spec, w.p0
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
                              kept0, e_mun, e_lat, e_lon, s_lat, s_lon, open_p, opened, n_m, site_mun,
                              rt=(w.sp_rt, w.rt_m, w.rt_days))

    # ---------------------------------------------------------------- write everything atomically
    out = Path(out)
    check_simulate_folder(out, force=True)
    with atomic_dir(out) as tmp:
        _write_world(tmp, w, truth, potential, size, seed)
    w.say(f"  wrote {out} in {time.perf_counter() - t_start:.1f} s")
    return out


def _world_with_shocks(size: Size, seed: int, *, end: str | None = None, first_wave: str | None = None,
                       quiet: bool = True, shocks: Shocks | dict | str | None = None) -> SimpleNamespace:
    """The first stages of a world (municipalities, employers, sites, exposure) and its correlated shocks.

    Parameters
    ----------
    size, seed, end, first_wave, quiet, shocks
        As in :func:`simulate`.
    """
    check_option("size", size, Size)
    knobs = as_shocks(shocks)
    spec = SIZES[size]
    end = DEFAULT_END if end is None else end
    p1 = last_complete_month() if end == "latest" else parse_month(end, "end")
    p0 = p1 - spec.months + 1
    w0 = parse_month(first_wave, "first_wave") if first_wave else p1 - 29
    if not p0 + 3 <= w0 <= p1:
        raise CeciError(
            f"first_wave={label(w0)} must fall inside the data window {label(p0 + 3)}..{label(p1)} "
            "(at least 3 pre-periods)"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise CeciError(f"seed={seed!r}: expected a whole number from 0 to 2^63 - 1")
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
    draw_shocks(w, knobs, seed)  # from a generator of its own: the draws above and below do not depend on it
    return w


def shock_fields(size: Size = "small", seed: int = 2026, shocks: Shocks | dict | str | None = None) -> SimpleNamespace:
    """The correlated shocks a world of this size and seed would get, without simulating jobs or writing files:
    a namespace with the employer × month log multipliers ``demand`` and ``absence`` (``None`` when off), the wage
    multiplier ``wage_f``, the municipality × month demand component ``mun_demand``, each employer's site cluster
    ``e_site`` (-1: none), its municipality ``e_mun`` and the centroids ``m_lat``, ``m_lon``.

    Parameters
    ----------
    size, seed, shocks
        As in :func:`simulate`.
    """
    return _world_with_shocks(size, seed, shocks=shocks)


# every entry ``simulate`` writes into its output folder (anything else there is a user's file, never replaced)
SIMULATE_FILES = frozenset({
    "asegurados", "ceci_sites.csv", "crosswalk_imss_municipio_to_inegi.csv", "employers.parquet",
    "incapacidades.parquet", "job_spells.parquet", "municipios.csv", "truth.json", "truth_employer_month.parquet",
    "truth_mun_month.parquet", "README.md", "SIMULATED.md",
})


def check_simulate_folder(out: str | Path, force: bool = False) -> None:
    """Refuse an output folder whose files ``simulate`` did not write (the rule ``build`` keeps): a file in place of
    the folder always; a folder holding other files (built panels, real data, a user's notes) unless ``force``.

    Parameters
    ----------
    out
        The folder ``simulate`` would replace.
    force
        Replace a folder holding other files (the user's explicit choice); a file is never replaced by a folder.
    """
    from .._options import CeciError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CeciError(f"--out {out} is a file; expected a folder (simulate never replaces a file by a folder)")
    if not out.is_dir() or force:
        return
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    foreign = [n for n in names if n not in SIMULATE_FILES]
    if foreign or (set(names) - {"README.md"} and not (out / "truth.json").exists()):
        shown = foreign or [n for n in names if n != "README.md"]
        raise CeciError(f"--out {out} holds files that ceci-impact simulate did not write ({', '.join(shown[:5])}"
                        f"{', ...' if len(shown) > 5 else ''}); expected an empty folder or an earlier simulated world "
                        "— choose another --out (or --force to replace it)")
