"""Three-state verdicts, minimum detectable effects, decision units and costs (study/verdict.py,
study/economics.py), and how the index and the one-page brief show them (report/index_page.py)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ceci_impact._options import CeciError
from ceci_impact.report import index_page as ip
from ceci_impact.study import economics as ec
from ceci_impact.study import verdict as vd


def test_mde_is_bloom_formula_with_the_intervals_own_quantiles():
    assert vd.minimum_detectable_effect(1.0) == pytest.approx(stats.norm.ppf(0.975) + stats.norm.ppf(0.8), abs=1e-12)
    assert vd.minimum_detectable_effect(2.0, df=4) == pytest.approx(2 * (stats.t.ppf(0.975, 4) + stats.t.ppf(0.8, 4)))
    assert vd.minimum_detectable_effect(1.0, alpha=0.1, power=0.9) == pytest.approx(
        stats.norm.ppf(0.95) + stats.norm.ppf(0.9))
    with pytest.raises(ValueError):
        vd.minimum_detectable_effect(1.0, power=1.2)


@pytest.mark.parametrize("df", [None, 6.0])
def test_mde_has_the_stated_power_by_simulation(df):
    """An effect equal to the MDE is detected (interval excludes zero) in about 80 % of draws of the estimate."""
    rng = np.random.default_rng(20261205)
    se = 0.7
    mde = vd.minimum_detectable_effect(se, df=df)
    crit = vd.quantile(0.975, df)
    # the estimate's sampling distribution under the interval's own model: mde + se * (t or normal)
    draws = mde + se * (rng.standard_t(df, 200_000) if df else rng.standard_normal(200_000))
    power = np.mean(np.abs(draws) / se > crit)
    assert power == pytest.approx(0.8, abs=0.01)


def test_three_states():
    det = vd.verdict(0.3, 0.1, 0.5, 0.1, outcome="eg_days_per_worker", baseline=1.0)
    assert det.state == "detected"
    out = vd.verdict(0.01, -0.03, 0.04, 0.018, outcome="eg_days_per_worker", baseline=1.0)
    assert out.state == "ruled_out" and out.bound == pytest.approx(0.04) and out.practical == pytest.approx(0.05)
    inc = vd.verdict(0.05, -0.2, 0.3, 0.128, outcome="eg_days_per_worker", baseline=1.0, treated_clusters=20)
    assert inc.state == "inconclusive" and inc.bound == pytest.approx(0.3)
    # square-root projection: clusters needed so that the MDE falls to the practical size
    assert inc.clusters_needed == math.ceil(20 * (inc.mde / 0.05) ** 2)
    # log outcomes: practical size in log points whatever the baseline
    assert vd.verdict(0.0, -0.02, 0.02, 0.01, outcome="log_women_jobs", baseline=None).state == "ruled_out"
    # no comparison mean: cannot tell "ruled out", never claims it
    assert vd.verdict(0.0, -1e-6, 1e-6, 1e-7, outcome="eg_days_per_worker", baseline=None).state == "inconclusive"


def test_verdict_refuses_bad_input():
    with pytest.raises(ValueError):
        vd.verdict(float("nan"), 0, 1, 0.1)
    with pytest.raises(ValueError):
        vd.verdict(0.5, 1.0, 0.0, 0.1)


def test_verdict_text_in_both_languages():
    inc = vd.verdict(0.05, -0.2, 0.3, 0.128, outcome="eg_days_per_worker", baseline=1.0, treated_clusters=20)
    t = inc.text()
    assert "rule out" in t.lang("en") and "descartan" in t.lang("es")
    assert "1,000" in t.lang("es")  # the projection exceeds the planned centres here


def test_decision_units():
    h = {"outcome": "eg_days_per_worker", "estimate": -0.01, "ci_low": -0.03, "ci_high": 0.01}
    d = ec.decision_effect(h, {})
    assert (d["value"], d["lo"], d["hi"]) == pytest.approx((-12, -36, 12))
    facts = {"women_jobs_per_treated_municipality": 1000.0, "treated_municipalities": 10, "centres_opened": 20,
             "places_opened": 3000.0}
    h = {"outcome": "log_women_jobs", "estimate": 0.02, "ci_low": -0.01, "ci_high": 0.05}
    d = ec.decision_effect(h, facts)
    assert d["value"] == pytest.approx(1000 * (math.exp(0.02) - 1))
    assert d["per_centre"][0] == pytest.approx(d["value"] * 10 / 20)
    assert d["per_100_places"][0] == pytest.approx(d["value"] * 10 / 30)


def test_costs_and_unbounded_intervals():
    a = ec.CostAssumptions(fee_per_child_month=2000, price_factor=1.5)
    assert a.cost_per_place_year == pytest.approx(2000 * 12 * 1.5)
    facts = {"women_jobs_per_treated_municipality": 1000.0, "treated_municipalities": 10, "centres_opened": 20,
             "places_opened": 3000.0, "women_daily_wage": 400.0}
    h = {"outcome": "log_women_jobs", "estimate": 0.02, "ci_low": -0.01, "ci_high": 0.05}
    c = ec.costs(h, facts, a)
    annual = 3000 * a.cost_per_place_year
    women = 10 * 1000 * (math.exp(0.02) - 1)
    assert c["cost_per_woman"][0] == pytest.approx(annual / women)
    assert c["cost_per_woman"][2] is None  # the interval reaches zero: the cost per woman is unbounded above
    assert c["cost_per_woman"][1] == pytest.approx(annual / (10 * 1000 * (math.exp(0.05) - 1)))
    assert c["guarderias_contributions"][0] == pytest.approx(women * 400 * 365 * 0.01)
    h = {"outcome": "eg_days_per_worker", "estimate": -0.02, "ci_low": -0.03, "ci_high": -0.01}
    c = ec.costs(h, {"places_opened": 100.0, "workers_treated_employers": 5000.0}, a)
    assert c["days_avoided"] == pytest.approx([0.02 * 12 * 5000, 0.01 * 12 * 5000, 0.03 * 12 * 5000])
    assert c["cost_per_day_avoided"][1] < c["cost_per_day_avoided"][0] < c["cost_per_day_avoided"][2]
    with pytest.raises(CeciError):
        ec.CostAssumptions(price_factor=-1)
    with pytest.raises(CeciError):
        ec.CostAssumptions(occupancy=1.5)


def test_median_fee_matches_the_original_list(original_real_data):
    """The default cost of a place is the median fee of the 2009 subrogated-guarderías list."""
    d = pd.read_csv(original_real_data / "guarderias_imss_2009" / "guarderias_imss_subrogadas_2009.csv")
    assert float(d["cuota_unitaria_mxn_mes"].median()) == pytest.approx(ec.MEDIAN_FEE_2009, abs=0.005)


def test_exposure_facts_on_the_small_world(small_world):
    proc = small_world / "processed"
    f = ec.exposure_facts(proc)
    sites = pd.read_parquet(proc / "sites.parquet")
    mun = pd.read_parquet(proc / "mun_month.parquet")
    last = mun.period.max()
    opened = sites[(sites.opening_period > 0) & (sites.opening_period <= last)]
    assert f["centres_opened"] == len(opened) > 0
    assert f["places_opened"] == opened.capacity.sum()
    assert f["treated_municipalities"] == mun.loc[mun.first_treat > 0, "cvegeo"].nunique()
    assert f["women_jobs_per_treated_municipality"] > 0 and f["women_daily_wage"] > 0
    assert f["treated_employers"] is None or f["treated_employers"] >= ec.MIN_EMPLOYERS


def _rows(heads, facts):
    return {"00_summary": {"ok": {"results": {"headlines": heads, "exposure": facts}}, "failed": None,
                           "skipped": None}}


HEADS = [
    {"outcome": "log_women_jobs", "label": "log women's insured jobs", "estimate": 0.004, "se": 0.01,
     "ci_low": -0.016, "ci_high": 0.024, "alpha": 0.05, "df": None, "baseline": 6.0, "truth": 0.01},
    {"outcome": "eg_days_per_worker", "label": "general-illness incapacity days per worker-month",
     "estimate": -0.05, "se": 0.01, "ci_low": -0.07, "ci_high": -0.03, "alpha": 0.05, "df": 12.0, "baseline": 0.5,
     "truth": -0.04},
    {"outcome": "separation_rate", "label": "monthly separation rate", "estimate": 0.0005, "se": 0.0018,
     "ci_low": -0.003, "ci_high": 0.004, "alpha": 0.05, "df": None, "baseline": 0.03, "truth": 0.0},
]
FACTS = {"centres_opened": 20, "places_opened": 3000.0, "treated_municipalities": 12,
         "women_jobs_per_treated_municipality": 900.0, "women_daily_wage": 450.0, "treated_employers": 80,
         "workers_treated_employers": 4000.0}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_index_shows_verdicts_decision_units_and_costs(lang):
    page = ip.index_page(_rows(HEADS, FACTS), lang)
    assert "name='viewport'" in page
    states = {k: ip._t(f"verdict.state_{k}", lang) for k in vd.VERDICT_STATES}
    assert states["inconclusive"] in page and states["detected"] in page and states["ruled_out"] in page
    assert ip._t("index.col_decision", lang) in page and ip._t("index.col_cost", lang) in page
    assert ip._t("decision.days", lang, v="+60", lo="+36", hi="+84").split("[")[0].split(" ", 1)[1] in page
    if lang == "es":
        assert "(UTC)" not in page and "hora del centro de México" in page


@pytest.mark.parametrize("lang", ["es", "en"])
def test_brief_has_the_three_questions_per_outcome(lang):
    page = ip.executive_summary(_rows(HEADS, FACTS), lang)
    assert "name='viewport'" in page and "size: A4 portrait" in page
    for key in ("brief.know", "brief.cannot", "brief.when"):
        assert ip._t(key, lang) in page
    assert len(re.findall(r"<tr><td><b>", page)) == len(HEADS)


def test_month_formatting():
    from ceci_impact.i18n import fmt_month

    assert fmt_month("2024-06", "es") == "junio de 2024"
    assert fmt_month("2024-06-26", "en") == "June 2024"
    assert fmt_month("not a month", "es") == "not a month"


def test_spanish_brief_prints_on_one_a4_page(tmp_path):
    """Headless Chromium prints the Spanish one-page brief (five outcomes, all columns filled) on one A4 page."""
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("chromium not installed (.ci/run installs Debian's chromium)")
    heads = HEADS + [dict(HEADS[1], outcome="rt_days_per_worker", label="work-risk incapacity days per worker-month"),
                     dict(HEADS[0], outcome="avg_wage_women", label="women's average daily wage (MXN)",
                          estimate=-5.9, se=5.3, ci_low=-16.1, ci_high=4.3, baseline=400.0)]
    page = tmp_path / "brief.html"
    page.write_text(ip.executive_summary(_rows(heads, FACTS), "es"), encoding="utf-8")
    pdf = tmp_path / "brief.pdf"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", page.as_uri()], check=True, timeout=120, capture_output=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert pages == 1


def test_marks_on_downloads_and_figures():
    """Downloads are in the page's language, named from the caption, and carry the data kind; figures too."""
    import base64

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ceci_impact import marks
    from ceci_impact.report.figure_html import figure_html
    from ceci_impact.tables import table_html

    df = pd.DataFrame({"scheme": ["IMSS scheme", "Empresa scheme"], "estimate": [0.1, 0.2]})
    try:
        marks.set_data_kind("simulated")
        page = table_html(df, caption=ip.msg("index.col_decision"))
        es = page.split("lang='es'>", 1)[1]
        name = re.search(r"download='([^']+)'", es).group(1)
        assert name.endswith("-simulado.csv") and "unidades" in name
        csv = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", es).group(1)).decode()
        assert csv.startswith("# DATOS SIMULADOS") and "esquema IMSS" in csv and "estimación" in csv
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        html_fig = figure_html(fig)
        svgs = [base64.b64decode(m).decode() for m in re.findall(r"svg\+xml;base64,([A-Za-z0-9+/=]+)", html_fig)]
        assert any("SIMULADO" in s for s in svgs) and any("SIMULATED" in s for s in svgs)
        assert len(fig.texts) == 0  # the mark is removed after drawing
        marks.set_data_kind(None)
        assert "# " not in base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)",
                                                      table_html(df)).group(1)).decode().splitlines()[0]
    finally:
        marks.set_data_kind(None)


def test_language_check_finds_english_and_code_names():
    from ceci_impact.report.language_check import page_problems

    ok = ("<html lang='es'><body><h2>Efectos principales</h2><p>El efecto no es distinguible de cero "
          "(Callaway–Sant'Anna, IMSS, CECI-0003).</p><div lang='en'><p>The effect of the centres</p></div>"
          "<img alt='Figura: eje horizontal'></body></html>")
    assert page_problems(ok) == []
    bad = ("<html lang='es'><body><h2>Estimate</h2><p>The effect on employers is small.</p>"
           "<td>pesos de women_jobs0</td><p>según runplan.toml y biasDirection</p></body></html>")
    found = page_problems(bad)
    assert any("<h2>" in f for f in found) and any("<p>" in f and "English" in f for f in found)
    assert any("women_jobs0" in f for f in found) and any("runplan.toml" in f for f in found)
    assert any("biasDirection" in f for f in found)


def test_mde_follows_the_interval_shown():
    """A wider interval than the standard error suggests (bootstrap or randomisation inference) gives the MDE of
    that interval: half-width over the critical value, times the two quantiles."""
    v = vd.verdict(0.0, -0.4, 0.4, 0.1, outcome="eg_days_per_worker", baseline=1.0)
    z = stats.norm.ppf(0.975)
    assert v.mde == pytest.approx((z + stats.norm.ppf(0.8)) * 0.4 / z)
