"""Estimation samples: the municipality and employer panels as the event studies use them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._options import CeciError
from ..calendar import label
from ..confidentiality import suppress_small
from ..data.outcomes import OUTCOMES
from ..data.panels import load, manifest


def municipality_sample(processed: str | Path, outcome: str, scheme: str = "both", pole: str = "") -> pd.DataFrame:
    """Municipality × month estimation sample: unit code, period, cohort (by scheme), covariates.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    outcome : str
        An outcome of the registry (:data:`ceci_impact.data.outcomes.OUTCOMES`).
    scheme : {'both', 'IMSS', 'Empresa'}
        Cohorts from sites of this scheme (municipalities whose first site is of the other scheme dropped).
    pole : str
        Keep the municipalities of this PODECOBI pole only ('' for all).
    """
    df = load("mun_month", processed)
    if outcome not in df.columns:
        raise CeciError(f"outcome {outcome!r} not in mun_month; available: {', '.join(df.columns)}")
    gcol = {"both": "first_treat", "IMSS": "first_treat_imss", "Empresa": "first_treat_empresa"}[scheme]
    df = df.assign(first_treat=df[gcol].astype(float))
    if scheme != "both":  # municipalities whose first site is of the other scheme are dropped (not clean controls)
        other = df["first_treat_imss" if scheme == "Empresa" else "first_treat_empresa"] > 0
        df = df[~(other & (df.first_treat == 0))]
    if pole:
        if pole not in set(df.pole):
            raise CeciError(f"pole={pole!r} not found; poles in the data: {', '.join(sorted(set(df.pole) - {''}))}")
        df = df[(df.pole == pole) | (df.first_treat == 0)]
    # first-month jobs of each municipality: the weights of its average-wage outcomes (a wage is a job's)
    first = df.sort_values("period").groupby("cvegeo")[["jobs_women", "jobs_men"]].transform("first")
    df = df.assign(women_jobs0=first["jobs_women"].astype(float), men_jobs0=first["jobs_men"].astype(float))
    df = df.dropna(subset=[outcome])
    df["unit"] = pd.factorize(df["cvegeo"])[0] + 1
    return df.reset_index(drop=True)

def employer_sample(processed: str | Path, outcome: str, ring_km: float | None = None,
                    min_workers: int = 1) -> pd.DataFrame:
    """Employer × month sample: treated ring vs controls (buffer ring dropped), unit code, covariates.

    ``ring_km``: the treated radius the panels must have been built with (``None`` or 0: whatever they were built
    with; the manifest records it and every truth follows it).

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    outcome : str
        An outcome of the registry (:data:`ceci_impact.data.outcomes.OUTCOMES`).
    ring_km : float, optional
        The treated radius the panels must have been built with (None or 0: as built).
    min_workers : int
        Smallest first-month workforce of an employer kept.
    """
    m = manifest(processed)
    if ring_km and abs(m["ring_km"][0] - ring_km) > 1e-9:
        raise CeciError(f"ring_km={ring_km} but the panels were built with {m['ring_km'][0]} km; rebuild with "
                        f"`ceci-impact build --ring-km {ring_km},{m['ring_km'][1]}`")
    df = load("employer_month", processed)
    if outcome not in df.columns:
        raise CeciError(f"outcome {outcome!r} not in employer_month")
    df = df[df.ring != "buffer"].copy()
    base = df.groupby("employer_id")["workers"].transform("first")
    df = df[base >= min_workers]
    mun = load("mun_month", processed)[["cvegeo", "x_industrial"]].drop_duplicates("cvegeo")
    df = df.merge(mun, on="cvegeo", how="left")
    df["manufacturing"] = (df["sector"] == "3").astype(float)
    df["size0"] = df.groupby("employer_id")["workers"].transform("first").astype(float)
    df["log_size0"] = np.log1p(df["size0"])
    df["first_treat"] = df["first_treat"].astype(float)
    df["unit"] = pd.factorize(df["employer_id"])[0] + 1
    df["site_cluster"], df["ri_pool"] = site_groups(df, processed, float(m["ring_km"][0]))
    df = df.reset_index(drop=True)
    df.attrs["ri_pool"] = "ri_pool"  # att_gt's randomisation inference permutes dates among these clusters only
    df.attrs["ri_pool_cluster"] = "site_cluster"  # ... when clustered by site (the pool is a set of site clusters)
    return df


def site_groups(df: pd.DataFrame, processed: str | Path, ring_km: float) -> tuple[pd.Series, pd.Series]:
    """The cluster of every employer row (``site_cluster``) and whether that cluster could have been assigned an
    opening date (``ri_pool``).

    Exposure is assigned by site, so the employers in the treated ring of a site that opened form one cluster
    (``cohort_site``). A comparison employer within ``ring_km`` of a candidate site that did not open in the
    window belongs to that site's cluster (the nearest one): it shares the site's local shocks and would have
    been in its treated ring had the site opened, so these clusters are the placebo sites of randomisation
    inference over which sites open (MacKinnon & Webb 2020; the design-based view of Roth & Sant'Anna 2023).
    Every other employer is its own cluster and outside the pool (no candidate site near it: it is a comparison
    under every schedule). Without a sites table, comparison employers are their own clusters and the pool is the
    treated sites' clusters.

    Parameters
    ----------
    df : pandas.DataFrame
        Employer x month rows with ``employer_id``, ``lat``, ``lon`` and ``cohort_site``.
    processed : str or pathlib.Path
        Folder of the built panels (``sites.parquet``: every candidate site with its ``opening_period``).
    ring_km : float
        Treated radius of the panels (km).

    Returns
    -------
    tuple of pandas.Series
        ``site_cluster`` (str) and ``ri_pool`` (bool), aligned with ``df``.
    """
    from ..data.areas import pairs_within_km
    from ..geo import haversine_km

    treated = df["cohort_site"].notna()
    cluster = df["cohort_site"].where(treated, df["employer_id"]).astype(str)
    pool = treated.copy()
    try:
        sites = load("sites", processed)
    except CeciError:
        return cluster, pool
    idle = sites[~(pd.to_numeric(sites["opening_period"], errors="coerce").fillna(0) > 0)]
    emp = df.loc[~treated, ["employer_id", "lat", "lon"]].drop_duplicates("employer_id")
    if idle.empty or emp.empty:
        return cluster, pool
    r, c = pairs_within_km(emp.lat.to_numpy(float), emp.lon.to_numpy(float), idle.lat.to_numpy(float),
                           idle.lon.to_numpy(float), ring_km)
    d = haversine_km(emp.lat.to_numpy(float)[r], emp.lon.to_numpy(float)[r], idle.lat.to_numpy(float)[c],
                     idle.lon.to_numpy(float)[c])
    order = np.lexsort((idle.site_id.to_numpy(str)[c], d, r))  # nearest candidate site (ties: smallest id)
    r, c = r[order], c[order]
    first = np.r_[True, r[1:] != r[:-1]]
    near = pd.Series(idle.site_id.to_numpy(str)[c[first]], index=emp.employer_id.to_numpy()[r[first]])
    placebo = df["employer_id"].map(near)
    cluster = cluster.where(placebo.isna(), "candidate:" + placebo.astype(str))
    return cluster, pool | placebo.notna()

def outcome_sample(processed: str | Path, outcome: str, ring_km: float | None = None) -> pd.DataFrame:
    """The estimation sample of a registered outcome (:data:`ceci_impact.data.outcomes.OUTCOMES`): the municipality
    sample for a municipality outcome, the employer sample (treated ring against controls) for an employer one.

    Parameters
    ----------
    processed : str or pathlib.Path
        Folder of the built panels.
    outcome : str
        An outcome of the registry (:data:`ceci_impact.data.outcomes.OUTCOMES`).
    ring_km : float, optional
        The treated radius of employer outcomes (see :func:`employer_sample`).
    """
    if outcome not in OUTCOMES:
        raise CeciError(f"outcome={outcome!r}: not a registered outcome; expected one of {', '.join(OUTCOMES)}")
    if OUTCOMES[outcome].panel == "municipality":
        return municipality_sample(processed, outcome)
    return employer_sample(processed, outcome, ring_km)


def sample_counts(df: pd.DataFrame, unit_label: str, suppress: bool = False, labeler=label) -> pd.DataFrame:
    """Units and observations by cohort (``never`` = 0), labelled by ``labeler`` (default ``YYYY-MM``).

    Parameters
    ----------
    df : pandas.DataFrame
        An estimation sample.
    unit_label : str
        What a unit is (``'employers'``, ``'municipalities'``).
    suppress : bool
        Suppress counts below 5 units (confidential units).
    labeler : callable
        Formats a cohort's period.
    """
    g = df.groupby("first_treat").agg(units=("unit", "nunique"), observations=("unit", "size")).reset_index()
    g.insert(0, "cohort", [labeler(v) for v in g.first_treat])
    g = g.drop(columns="first_treat").rename(columns={"units": unit_label})
    return suppress_small(g, [unit_label], linked=["observations"]) if suppress else g
