"""The SQL of the panels, one named ``SELECT`` per step, run in order by :mod:`ceci_impact.data.panels` on either engine.

Written once in DuckDB's dialect and kept portable (:func:`ceci_impact.data.engines.check_portable`): month indices are
``year * 12 + month - 1`` integers, the months of the window come from the registered table ``periods`` (one
column ``period``), casts are ``CAST(x AS type)``. Each step of the employer panel is a template filled with
``r1``/``r2`` (treated and buffer radii, km), ``p0``/``p1`` (the window's first and last period), ``p0_prev``
(``p0 - 1``) and ``hv`` (the haversine expression); the engine materialises it as the table named in
:data:`STEPS`. The written panels are :data:`WRITES` (file name, ``SELECT`` with its ``ORDER BY``).
"""

from __future__ import annotations

# municipality x month x sex from the staged asg table (platform workers, ptpd = 1, counted apart)
MUN_MONTH_SEX = """
        SELECT cvegeo, period, sexo AS sex,
               SUM(CASE WHEN ptpd = 0 THEN ta ELSE 0 END) AS jobs,
               SUM(CASE WHEN ptpd = 0 THEN ta_sal ELSE 0 END) AS jobs_sal,
               SUM(CASE WHEN ptpd = 0 THEN masa_sal_ta ELSE 0 END) AS wage_mass,
               SUM(CASE WHEN ptpd = 0 THEN masa_sal_ta ELSE 0 END)
                 / NULLIF(SUM(CASE WHEN ptpd = 0 THEN ta_sal ELSE 0 END), 0) AS avg_daily_wage,
               SUM(CASE WHEN ptpd = 1 THEN ta ELSE 0 END) AS platform_jobs
        FROM asg WHERE period BETWEEN {p0} AND {p1}
        GROUP BY cvegeo, period, sexo
    """

# the municipalities when municipios.csv is absent (open data only): keys from the asg files, no covariates
MUN_FROM_ASG = """
        SELECT DISTINCT cvegeo, CAST(NULL AS VARCHAR) AS nombre, CAST(NULL AS DOUBLE) AS mujeres_15_64,
               CAST(NULL AS DOUBLE) AS x_industrial, '' AS polo
        FROM asg
    """

# municipality x month: jobs by sex, wages, cohorts (first opening in the municipality or its pole: {pole_join})
MUN_MONTH = """
        WITH w AS (
            SELECT cvegeo, period,
                   SUM(jobs) AS jobs_total,
                   SUM(CASE WHEN sex = 2 THEN jobs ELSE 0 END) AS jobs_women,
                   SUM(CASE WHEN sex = 1 THEN jobs ELSE 0 END) AS jobs_men,
                   SUM(CASE WHEN sex = 2 THEN wage_mass ELSE 0 END)
                     / NULLIF(SUM(CASE WHEN sex = 2 THEN jobs_sal ELSE 0 END), 0) AS avg_wage_women,
                   SUM(CASE WHEN sex = 1 THEN wage_mass ELSE 0 END)
                     / NULLIF(SUM(CASE WHEN sex = 1 THEN jobs_sal ELSE 0 END), 0) AS avg_wage_men,
                   SUM(platform_jobs) AS platform_jobs
            FROM mun_month_sex GROUP BY cvegeo, period
        ),
        coh AS (
            SELECT m.cvegeo,
                   MIN(CASE WHEN s.opening_period > 0 THEN s.opening_period END) AS first_open,
                   COUNT(CASE WHEN s.opening_period > 0 THEN 1 END) AS n_sites_open,
                   COUNT(s.site_id) AS n_sites_registry,
                   MIN(CASE WHEN s.opening_period > 0 AND s.scheme = 'IMSS' THEN s.opening_period END) AS first_open_imss,
                   MIN(CASE WHEN s.opening_period > 0 AND s.scheme = 'Empresa' THEN s.opening_period END) AS first_open_empresa
            FROM mun m LEFT JOIN sites s ON {pole_join}
            GROUP BY m.cvegeo
        )
        SELECT w.*, w.jobs_women / NULLIF(w.jobs_total, 0) AS female_share,
               ln(NULLIF(w.jobs_women, 0)) AS log_women_jobs, ln(NULLIF(w.jobs_total, 0)) AS log_jobs,
               1000.0 * w.jobs_women / NULLIF(m.mujeres_15_64, 0) AS women_jobs_per_1000,
               COALESCE(c.first_open, 0) AS first_treat,
               COALESCE(c.first_open_imss, 0) AS first_treat_imss,
               COALESCE(c.first_open_empresa, 0) AS first_treat_empresa,
               COALESCE(c.n_sites_open, 0) AS n_sites_open, COALESCE(c.n_sites_registry, 0) AS n_sites_registry,
               {xcol} AS x_industrial, COALESCE({polecol}, '') AS pole, m.mujeres_15_64
        FROM w LEFT JOIN mun m USING (cvegeo) LEFT JOIN coh c USING (cvegeo)
    """

# distance (km) of every employer to every opened site
DIST = """
        SELECT e.employer_id, s.site_id, s.opening_period, s.scheme, {hv} AS km
        FROM employers e CROSS JOIN (SELECT * FROM sites WHERE opening_period > 0) s
    """

# per employer: nearest site, first opening within the treated and buffer radii, the cohort's site
EXPOSURE = """
        SELECT e.employer_id,
               MIN(d.km) AS nearest_km,
               MIN(CASE WHEN d.km <= {r1} THEN d.opening_period END) AS first_open_r1,
               MIN(CASE WHEN d.km <= {r2} THEN d.opening_period END) AS first_open_r2,
               ARG_MIN(d.site_id, d.km) AS nearest_site,
               -- the site whose opening defines the cohort (first opened within the treated radius; ties: nearest)
               ARG_MIN(CASE WHEN d.km <= {r1} THEN d.site_id END,
                       CASE WHEN d.km <= {r1} THEN d.opening_period * 100000.0 + d.km END) AS cohort_site
        FROM employers e LEFT JOIN dist d USING (employer_id)
        GROUP BY e.employer_id
    """

# ring (treated / buffer / control) and cohort (first opening within the treated radius)
EXPOSURE_RING = """
        SELECT *,
               CASE WHEN first_open_r1 IS NOT NULL THEN 'treated'
                    WHEN first_open_r2 IS NOT NULL THEN 'buffer' ELSE 'control' END AS ring,
               CASE WHEN first_open_r1 IS NOT NULL THEN first_open_r1 ELSE 0 END AS first_treat
        FROM exposure
    """

# spells in periods: first and last active month-ends, the child's eligibility window
SPELL_PERIODS = """
        SELECT worker_id, employer_id, sex, birth_year, child_birth, start, "end",
               year(start) * 12 + month(start) - 1 AS a,
               CASE WHEN "end" IS NULL THEN 1000000000
                    WHEN "end" = last_day("end") THEN year("end") * 12 + month("end") - 1
                    ELSE year("end") * 12 + month("end") - 2 END AS z,
               CASE WHEN child_birth IS NULL THEN NULL
                    ELSE year(child_birth + INTERVAL 43 DAY) * 12 + month(child_birth + INTERVAL 43 DAY) - 1 END AS ea,
               CASE WHEN child_birth IS NULL THEN NULL
                    ELSE year(child_birth + INTERVAL 4 YEAR) * 12 + month(child_birth + INTERVAL 4 YEAR) - 2 END AS ez,
               CASE WHEN "end" IS NULL THEN NULL ELSE year("end") * 12 + month("end") - 1 END AS sep_period
        FROM spells_in
    """

# +1/-1 events of workers, women, eligible parents (running sums give month-end stocks)
STOCK_EVENTS = """
        WITH base AS (
            SELECT employer_id, sex, a, z, GREATEST(a, COALESCE(ea, 1000000000)) AS ea2, LEAST(z, COALESCE(ez, -1)) AS ez2
            FROM sp
        ), raw_ev AS (
            SELECT employer_id, a AS p, 1 AS w, CASE WHEN sex = 2 THEN 1 ELSE 0 END AS f, 0 AS el, 0 AS elf FROM base
            UNION ALL
            SELECT employer_id, z + 1, -1, CASE WHEN sex = 2 THEN -1 ELSE 0 END, 0, 0 FROM base
            UNION ALL
            SELECT employer_id, ea2, 0, 0, 1, CASE WHEN sex = 2 THEN 1 ELSE 0 END FROM base WHERE ea2 <= ez2
            UNION ALL
            SELECT employer_id, ez2 + 1, 0, 0, -1, CASE WHEN sex = 2 THEN -1 ELSE 0 END FROM base WHERE ea2 <= ez2
        )
        SELECT employer_id, GREATEST(p, {p0}) AS period, SUM(w) AS dw, SUM(f) AS df, SUM(el) AS del, SUM(elf) AS delf
        FROM raw_ev WHERE p <= {p1}
        GROUP BY employer_id, GREATEST(p, {p0})
    """

# hires and separations (women, eligible parents) per employer and month
FLOWS = """
        SELECT employer_id, period, SUM(hire) AS hires, SUM(sep) AS separations,
               SUM(sep_f) AS separations_women, SUM(sep_el) AS separations_eligible
        FROM (
            SELECT employer_id, a AS period, 1 AS hire, 0 AS sep, 0 AS sep_f, 0 AS sep_el FROM sp
            UNION ALL
            SELECT employer_id, sep_period, 0, 1, CASE WHEN sex = 2 THEN 1 ELSE 0 END,
                   CASE WHEN ea IS NOT NULL AND sep_period BETWEEN ea AND ez THEN 1 ELSE 0 END
            FROM sp WHERE sep_period IS NOT NULL
        ) x WHERE period BETWEEN {p0} AND {p1}
        GROUP BY employer_id, period
    """

# incapacity days by branch per employer and month (eligible parents apart)
INCAPACITY = """
        WITH c AS (
            SELECT i.worker_id, i.employer_id, i.days, i.branch,
                   year(i.start) * 12 + month(i.start) - 1 AS period,
                   CASE WHEN s.child_birth IS NOT NULL AND i.start >= s.child_birth + INTERVAL 43 DAY
                             AND i.start < s.child_birth + INTERVAL 4 YEAR THEN 1 ELSE 0 END AS eligible,
                   s.sex
            FROM inc_in i LEFT JOIN sp s ON s.worker_id = i.worker_id AND s.employer_id = i.employer_id
        )
        SELECT employer_id, period,
               SUM(CASE WHEN branch = 'enfermedad_general' THEN days ELSE 0 END) AS eg_days,
               COUNT(DISTINCT CASE WHEN branch = 'enfermedad_general' THEN worker_id END) AS eg_workers,
               SUM(CASE WHEN branch = 'enfermedad_general' AND eligible = 1 THEN days ELSE 0 END) AS eg_days_eligible,
               COUNT(DISTINCT CASE WHEN branch = 'enfermedad_general' AND eligible = 1 THEN worker_id END)
                   AS eg_workers_eligible,
               SUM(CASE WHEN branch = 'enfermedad_general' AND eligible = 0 THEN days ELSE 0 END) AS eg_days_other,
               SUM(CASE WHEN branch = 'riesgo_trabajo' THEN days ELSE 0 END) AS rt_days,
               SUM(CASE WHEN branch = 'maternidad' THEN days ELSE 0 END) AS maternity_days
        FROM c WHERE period BETWEEN {p0} AND {p1}
        GROUP BY employer_id, period
    """

# distance to the nearest site open in each month
NEAREST_OPEN = """
        SELECT g.employer_id, g.period, MIN(d.km) AS nearest_open_km
        FROM (SELECT employer_id, period FROM employers CROSS JOIN periods) g
        JOIN (SELECT * FROM dist WHERE km <= 50) d
          ON d.employer_id = g.employer_id AND d.opening_period <= g.period
        GROUP BY g.employer_id, g.period
    """

# the employer x month panel: stocks, flows, incapacity, rates, exposure
EMPLOYER_MONTH = """
        WITH grid AS (
            SELECT e.employer_id, e.cvegeo, e.sector, e.size_band, e.lat, e.lon, m.period
            FROM employers e CROSS JOIN periods m
        ), stock AS (
            SELECT g.employer_id, g.period,
                   SUM(COALESCE(ev.dw, 0)) OVER w AS workers,
                   SUM(COALESCE(ev.df, 0)) OVER w AS women,
                   SUM(COALESCE(ev.del, 0)) OVER w AS eligible,
                   SUM(COALESCE(ev.delf, 0)) OVER w AS eligible_women
            FROM grid g LEFT JOIN ev ON ev.employer_id = g.employer_id AND ev.period = g.period
            WINDOW w AS (PARTITION BY g.employer_id ORDER BY g.period ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        )
        SELECT g.employer_id, g.period, g.cvegeo, g.sector, g.size_band, g.lat, g.lon,
               s.workers, s.women, s.eligible, s.eligible_women, s.workers - s.eligible AS not_eligible,
               COALESCE(f.hires, 0) AS hires, COALESCE(f.separations, 0) AS separations,
               COALESCE(f.separations_women, 0) AS separations_women,
               COALESCE(f.separations_eligible, 0) AS separations_eligible,
               COALESCE(i.eg_days, 0) AS eg_days, COALESCE(i.eg_workers, 0) AS eg_workers,
               COALESCE(i.eg_days_eligible, 0) AS eg_days_eligible,
               COALESCE(i.eg_workers_eligible, 0) AS eg_workers_eligible,
               COALESCE(i.eg_days_other, 0) AS eg_days_other,
               COALESCE(i.rt_days, 0) AS rt_days, COALESCE(i.maternity_days, 0) AS maternity_days,
               COALESCE(i.eg_days, 0) / NULLIF(s.workers, 0) AS eg_days_per_worker,
               COALESCE(i.eg_workers, 0) / NULLIF(s.workers, 0) AS share_any_incapacity,
               COALESCE(i.eg_days_eligible, 0) / NULLIF(s.eligible, 0) AS eg_days_per_eligible,
               COALESCE(i.eg_days_other, 0) / NULLIF(s.workers - s.eligible, 0) AS eg_days_per_other,
               COALESCE(i.rt_days, 0) / NULLIF(s.workers, 0) AS rt_days_per_worker,
               COALESCE(f.separations, 0) / NULLIF(LAG(s.workers) OVER (PARTITION BY g.employer_id ORDER BY g.period), 0)
                   AS separation_rate,
               s.women / NULLIF(s.workers, 0) AS female_share,
               n.nearest_open_km, x.nearest_km AS nearest_km_end, x.ring, x.first_treat, x.first_open_r2,
               x.cohort_site
        FROM grid g
        JOIN stock s ON s.employer_id = g.employer_id AND s.period = g.period
        LEFT JOIN flows f ON f.employer_id = g.employer_id AND f.period = g.period
        LEFT JOIN inc i ON i.employer_id = g.employer_id AND i.period = g.period
        LEFT JOIN nearest_open n ON n.employer_id = g.employer_id AND n.period = g.period
        JOIN exposure2 x ON x.employer_id = g.employer_id
    """

# spells with their employer's exposure (written, not materialised)
SPELLS_EXPOSURE = """
        SELECT sp.worker_id, sp.employer_id, sp.sex, sp.birth_year, sp.child_birth, sp.start, sp."end",
                   sp.a AS start_period, sp.sep_period,
                   CASE WHEN sp.ea IS NOT NULL AND sp.a BETWEEN sp.ea AND sp.ez THEN 1 ELSE 0 END AS eligible_at_start,
                   sp.ea AS eligible_from, sp.ez AS eligible_to,
                   x.ring, x.first_treat, x.nearest_km AS nearest_km_end, e.cvegeo
            FROM sp JOIN exposure2 x USING (employer_id) JOIN employers e USING (employer_id)
        WHERE sp.z >= {p0_prev}
        ORDER BY sp.employer_id, sp.worker_id, sp.start
    """

# tables of the employer panel, created in this order
STEPS = [  # (table created, its SQL)
    ("dist", DIST),
    ("exposure", EXPOSURE),
    ("exposure2", EXPOSURE_RING),
    ("sp", SPELL_PERIODS),
    ("ev", STOCK_EVENTS),
    ("flows", FLOWS),
    ("inc", INCAPACITY),
    ("nearest_open", NEAREST_OPEN),
    ("employer_month", EMPLOYER_MONTH),
]

# the panels written, in this order: (file, SELECT with the row order of the file)
MUN_WRITES = [
    ("mun_month_sex.parquet", "SELECT * FROM mun_month_sex ORDER BY cvegeo, period, sex"),
    ("mun_month.parquet", "SELECT * FROM mun_month ORDER BY cvegeo, period"),
]
EMPLOYER_WRITES = [
    ("employer_month.parquet", "SELECT * FROM employer_month ORDER BY employer_id, period"),
    ("spells_exposure.parquet", SPELLS_EXPOSURE),
]
