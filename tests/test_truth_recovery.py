"""The Monte Carlo's summary (benchmarks/truth_recovery.py) on hand-made per-world rows: failed worlds counted and
never dropped, width against the true sampling spread, power, pre-test size, the inference rules read from
att_gt's Literal, the held-out seeds refused, and a record that names its commit."""

from __future__ import annotations

import importlib.util
import json
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tr():
    spec = importlib.util.spec_from_file_location("truth_recovery", ROOT / "benchmarks" / "truth_recovery.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _rows(n=400, sd=1.0, se=1.0, truth=0.5, crit=1.96, seed=0, fail=3):
    rng = np.random.default_rng(seed)
    est = truth + rng.normal(0, sd, n)
    df = pd.DataFrame({"seed": np.arange(n), "outcome": "y", "estimator": "callaway_santanna", "failed": False,
                       "estimate": est, "se": se, "ci_low": est - crit * se, "ci_high": est + crit * se,
                       "truth": truth, "contamination": 0.0, "pretest_p": rng.uniform(0, 1, n),
                       "pretest_sup_p": rng.uniform(0, 1, n)})
    df.loc[: fail - 1, ["estimate", "se", "ci_low", "ci_high"]] = np.nan
    df.loc[: fail - 1, "failed"] = True
    return df


def test_failed_worlds_are_counted_and_the_statistics_are_right(tr):
    tab = tr.summarise(_rows()).iloc[0]
    assert tab.n == 400 and tab.failed == 3
    assert tab.coverage == pytest.approx(0.95, abs=0.035)
    assert tab.coverage_failed_as_miss < tab.coverage
    assert tab.width_ratio == pytest.approx(1.0, abs=0.1)  # the interval matches the true spread
    assert tab.pretest_size == pytest.approx(0.05, abs=0.035)
    # an interval twice too wide: width ratio 2, coverage ~1; power is the share of intervals excluding zero
    wide = tr.summarise(_rows(se=2.0, truth=3.0)).iloc[0]
    assert wide.width_ratio == pytest.approx(2.0, abs=0.2) and wide.coverage > 0.99
    tight = tr.summarise(_rows(truth=3.0)).iloc[0]
    assert tight.power > wide.power
    # a non-finite estimate that was not flagged is a failure too; older files without the column still load
    old = _rows(fail=0).drop(columns=["failed", "pretest_p", "pretest_sup_p"])
    old.loc[0, "se"] = np.inf
    t = tr.summarise(old).iloc[0]
    assert t.failed == 1 and np.isnan(t.pretest_size)


def test_an_outcome_that_fails_everywhere_is_reported(tr):
    df = pd.concat([_rows(), pd.DataFrame(tr._failed_rows(1, ["z"], ["callaway_santanna"], "ValueError: boom"))])
    tab = tr.summarise(df).set_index("outcome")
    assert tab.loc["z", "n"] == 1 and tab.loc["z", "failed"] == 1 and np.isnan(tab.loc["z", "coverage"])
    rec = tr._records(tr.summarise(df))
    assert rec["z"]["callaway_santanna"]["coverage"] is None


def test_inference_rules_come_from_att_gt(tr):
    from ceci_impact.did.cs.att_gt import SmallCluster

    assert tr.inference_rules() == typing.get_args(SmallCluster)
    ap = tr._parser()
    assert ap.parse_args(["--inference", typing.get_args(SmallCluster)[0]]).inference == typing.get_args(SmallCluster)[0]
    with pytest.raises(SystemExit):
        ap.parse_args(["--inference", "no_such_rule"])


def test_held_out_seeds_are_refused_and_the_record_names_its_commit(tr, tmp_path, capsys):
    with pytest.raises(SystemExit):
        tr.main(["--size", "small", "--seeds", "9001"])
    assert "held-out" in capsys.readouterr().err
    p = tmp_path / "w.worlds.csv"
    _rows(n=20).to_csv(p, index=False)
    out = tmp_path / "s.json"
    assert tr.main(["--from-worlds", str(p), "--json", str(out)]) == 0
    about = json.loads(out.read_text())["_about"]
    assert "--from-worlds" in about["command"] and about["worlds"] == 20
    if about["commit"] is not None:  # a git checkout
        assert len(about["commit"]) == 40 and isinstance(about["dirty"], bool)
    assert tr.seed_label([1, 2, 3, 7, 9, 10]) == "1–3, 7, 9–10"
