"""``ceci_impact._blas``: the estimators run their BLAS products on one thread and restore the setting."""

from __future__ import annotations

import numpy as np

from ceci_impact import _blas


def test_single_threaded_sets_one_thread_and_restores():
    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS is loaded
    libs = _blas._libraries(refresh=True)
    before = [get() for _, get in libs]
    seen = []

    @_blas.single_threaded
    def inner():
        seen.append([get() for _, get in _blas._libraries()])
        return 7

    @_blas.single_threaded
    def outer():
        return inner() + 1  # nested: still one thread inside, restored only by the outermost call

    assert outer() == 8
    assert seen == [[1] * len(libs)]
    assert [get() for _, get in libs] == before


def test_single_threaded_restores_after_an_error():
    libs = _blas._libraries(refresh=True)
    before = [get() for _, get in libs]

    @_blas.single_threaded
    def boom():
        raise ValueError("x")

    try:
        boom()
    except ValueError:
        pass
    assert [get() for _, get in libs] == before
