"""The employer sample's clusters: a treated site's ring, the placebo ring of a candidate site that did not open,
or the employer alone; and the randomisation pool they declare (``ri_pool``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ceci_impact.data.panels import load, manifest
from ceci_impact.geo import haversine_km
from ceci_impact.study.samples import employer_sample


def test_site_groups_follow_the_candidate_sites(small_world):
    proc = small_world / "processed"
    df = employer_sample(proc, "eg_days_per_worker")
    assert df.attrs.get("ri_pool") == "ri_pool"
    u = df.drop_duplicates("employer_id").reset_index(drop=True)
    sites = load("sites", proc)
    idle = sites[~(pd.to_numeric(sites.opening_period, errors="coerce").fillna(0) > 0)]
    r_in = float(manifest(proc)["ring_km"][0])
    treated = u.cohort_site.notna()
    assert (u.loc[treated, "site_cluster"] == u.loc[treated, "cohort_site"].astype(str)).all()
    assert u.loc[treated, "ri_pool"].all()
    d = haversine_km(u.lat.to_numpy()[:, None], u.lon.to_numpy()[:, None], idle.lat.to_numpy()[None, :],
                     idle.lon.to_numpy()[None, :])
    near = d.min(axis=1) <= r_in
    ctrl = ~treated.to_numpy()
    # every comparison employer within the ring of an unopened candidate site is in that (nearest) site's cluster
    want = np.where(near, "candidate:" + idle.site_id.to_numpy(str)[d.argmin(axis=1)], u.employer_id.astype(str))
    assert (u.site_cluster.to_numpy()[ctrl] == want[ctrl]).all()
    assert (u.ri_pool.to_numpy()[ctrl] == near[ctrl]).all()
    assert near[ctrl].any() and (~near[ctrl]).any()  # the small world has both kinds
    # a cluster is one site's: never a mix of treated and placebo employers, constant pool flag
    g = u.groupby("site_cluster")
    assert (g.ri_pool.nunique() == 1).all() and (g.first_treat.nunique() == 1).all()
