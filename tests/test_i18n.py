"""Two languages from message catalogues: every key in both, every markdown cell translated from its current
English, one number formatter without scientific notation, bilingual tables and figures."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pandas as pd
import pytest

from ceci_impact import i18n
from ceci_impact.tables import table_html

from .conftest import ROOT


def test_both_catalogues_have_the_same_keys_and_placeholders():
    en, es = i18n.messages("en"), i18n.messages("es")
    assert set(en) == set(es)
    for k in en:
        assert set(re.findall(r"{(\w+)", en[k])) == set(re.findall(r"{(\w+)", es[k])), k


def test_every_markdown_cell_has_a_current_spanish_translation():
    cat = i18n.cells_es()
    for f in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(f, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            entry = cat.get(f.stem, {}).get(cell.id)
            assert entry, f"{f.name} cell {cell.id}: no Spanish translation in messages/cells.es.toml"
            assert entry["en"] == i18n.source_sha(cell.source), (
                f"{f.name} cell {cell.id}: the English changed since it was translated; update cells.es.toml")


@pytest.mark.parametrize("x, out", [(0.000097139, "0.0000971"), (0.044056, "0.0441"), (12345.678, "12,346"),
                                    (3215, "3,215"), (2.5377, "2.54"), (-0.5, "-0.500"), (np.nan, "—"),
                                    (1e-12, "0.00000000000100"), (0.0, "0")])
def test_number_formatter(x, out):
    assert i18n.fmt_number(x) == out
    assert "e" not in i18n.fmt_number(x).lower()


def test_text_carries_both_languages_through_joins():
    t = i18n.msg("effect.not_sig") + " / " + i18n.msg("effect.sig")
    assert t == "not distinguishable from zero / distinguishable from zero"
    assert t.lang("es") == "no es distinguible de cero / es distinguible de cero"
    assert i18n.term("cohort 2025-02", "es") == "cohorte 2025-02"
    assert i18n.term("Imputation (BJS) (never-treated comparison; unconditional)", "es") == (
        "Imputación (BJS) (comparación con nunca tratados; incondicional)")


def test_tables_have_human_headers_no_index_and_no_scientific_notation():
    df = pd.DataFrame({"estimate": [4.4056e-02, -9.7139e-05], "ci_low": [0.01, -0.002], "covers_truth": [True, False],
                       "cvegeo": ["01001", "01002"]})
    h = table_html(df, "A table")
    es = re.search(r"<div class='ceci-i18n' lang='es'>(.*?)</div><div class='ceci-i18n' lang='en'>", h, re.S).group(1)
    assert "estimación" in es and "IC inferior" in es and "sí" in es and "municipio (clave INEGI)" in es
    assert "0.0441" in es and "-0.0000971" in es and "e-0" not in h
    assert "<th></th>" not in h and ">0</td>" not in h
    assert "data:text/csv;charset=utf-8;base64," in h


def test_figures_in_both_languages_with_alt_text():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ceci_impact.report.figure_html import figure_html

    fig, ax = plt.subplots()
    ax.plot([-2, -1, 0, 1], [0.1, 0.0, -0.2, -0.3], label="post-treatment")
    ax.set_xlabel("periods relative to first exposure")
    ax.set_ylabel("ATT")
    ax.set_title("Estimator comparison")
    ax.legend()
    h = figure_html(fig)
    plt.close(fig)
    alts = re.findall(r"alt='([^']*)'", h)
    assert len(alts) == 2
    assert alts[0].startswith("Figura: Comparación de estimadores") and "eje horizontal" in alts[0]
    assert alts[1].startswith("Figure: Estimator comparison") and "series: post-treatment" in alts[1]
    assert h.count("data:image/svg+xml;base64,") == 2
