"""One BLAS thread per render kernel when the workers take every core (issue 27, part 3): the rule, the worker's
environment (a user's own setting wins), and the documented tolerance — results computed with one or two BLAS
threads agree to float rounding (estimators 1e-12), and the honest-DiD bounds, solved numerically, within the 1e-4
of their agreement with R's HonestDiD (tests/test_estimators.py; measured 2e-6 absolute, 4e-5 relative, on mpdta's
CS dynamic aggregation: the FLCI optimum moves with the last digits of its inputs)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ceci_impact._blas import blas_threads
from ceci_impact.did import att_gt, honest_did, sun_abraham, twfe
from ceci_impact.report import render as R

KW = dict(yname="lemp", tname="year", idname="countyreal", gname="first_treat")


@pytest.mark.parametrize(("cores", "workers", "want"), [(2, 2, 1), (2, 1, 2), (8, 2, 4), (2, 5, 1), (None, 3, 1)])
def test_threads_share_the_cores(monkeypatch, cores, workers, want):
    monkeypatch.setattr(R.os, "cpu_count", lambda: cores)
    assert R.blas_threads_per_kernel(workers) == want


def test_worker_sets_threads_unless_user_did(monkeypatch):
    for v in R.BLAS_THREAD_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # the user's choice stays
    R._worker_init(1)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["OMP_NUM_THREADS"] == "1"
    assert os.environ["MKL_NUM_THREADS"] == "3"


def _fits(mpdta):
    cl = mpdta.assign(cl=mpdta.countyreal // 7)
    sa = sun_abraham(cl, clustervars="cl", **KW)
    tw = twfe(mpdta, type="event_study", **KW)
    cs = att_gt(mpdta, control_group="notyettreated", base_period="universal", bstrap=False, cband=False, **KW)
    hon = [honest_did(r, e=0, Mvec=[0.0, 0.02, 0.04]).table for r in (tw, cs.aggte("dynamic"))]
    return sa, tw, hon


def test_one_or_two_blas_threads_agree_to_rounding(mpdta):
    with blas_threads(1):
        a = _fits(mpdta)
    with blas_threads(2):
        b = _fits(mpdta)
    for x, y in zip(a[:2], b[:2], strict=True):
        np.testing.assert_allclose(x.tidy().att, y.tidy().att, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(x.tidy().se, y.tidy().se, rtol=1e-12, atol=1e-14)
    for x, y in zip(a[2], b[2], strict=True):
        np.testing.assert_allclose(x.lb, y.lb, rtol=0, atol=1e-4)
        np.testing.assert_allclose(x.ub, y.ub, rtol=0, atol=1e-4)


def test_multiplier_bootstrap_band_with_one_or_two_threads():
    """The dose-response band's critical value comes from the multiplier bootstrap, whose single-precision
    products OpenBLAS splits by thread count (``ceci_impact._blas``): with one or two threads it agrees to 1e-6
    relative (the render of the default world moved by at most 3e-7; docs/benchmarks-speed.md)."""
    from ceci_impact.did.core.bootstrap import mboot

    rng = np.random.default_rng(4)
    psi = rng.normal(size=(6000, 9)) * rng.gamma(2.0, size=(6000, 1))
    cl = rng.integers(0, 700, size=6000)
    out = []
    for n in (1, 2):
        with blas_threads(n):
            out.append(mboot(psi, biters=999, alp=0.05, rng=np.random.default_rng(7), cluster=cl))
    assert np.isfinite(out[0].crit_val)
    assert out[0].crit_val == pytest.approx(out[1].crit_val, rel=1e-6)
    np.testing.assert_allclose(out[0].se, out[1].se, rtol=1e-6)
