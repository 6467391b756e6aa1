"""The number of threads of the OpenBLAS libraries numpy and scipy load, set for a block of code.

The estimators make many small matrix products (a few columns by the units of one comparison). With several
BLAS threads each product waits for all of them to be scheduled: on a machine whose cores are busy with other
work (a shared JupyterHub server, a CI runner), a product of a millisecond then takes the scheduler's time slice,
and a few hundred of them turn a second's work into ten (measured on a 2-core machine at load 10: ``att_gt`` with
a covariate, 15.8 s with two threads against 1.6 s with one, for 0.3 s of computation). The estimators therefore
run on one thread (:func:`single_threaded`). One thread also makes the single-precision products of the
multiplier bootstrap (:mod:`ceci_impact.did.core.mammen`) independent of the machine: with two threads OpenBLAS splits
them differently and the bootstrap standard errors moved in the 8th digit.

Found through ``ctypes`` among the libraries the process has loaded (``/proc/self/maps``), OpenBLAS only; where
none is found (another BLAS, another system) it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

F = TypeVar("F", bound=Callable)
_NAMES = [("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
          ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
          ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
          ("openblas_set_num_threads", "openblas_get_num_threads")]
_cache: dict[str, tuple] = {}
_state: dict = {"depth": 0, "libs": None}


def _libraries(refresh: bool = False) -> list[tuple]:
    """``(set, get)`` of every OpenBLAS loaded (the process's maps are read again when ``refresh``)."""
    if _state["libs"] is not None and not refresh:
        return _state["libs"]
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return []
    for path in paths - _cache.keys():
        found = None
        try:
            lib = ctypes.CDLL(path)
            for set_name, get_name in _NAMES:
                if hasattr(lib, set_name) and hasattr(lib, get_name):
                    setter, getter = getattr(lib, set_name), getattr(lib, get_name)
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    getter.argtypes, getter.restype = [], ctypes.c_int
                    found = (setter, getter)
                    break
        except OSError:
            found = None
        _cache[path] = found
    _state["libs"] = [_cache[p] for p in sorted(paths) if _cache.get(p)]
    return _state["libs"]


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` BLAS threads, then restore the previous numbers.

    Parameters
    ----------
    n : int
        Threads for the block.
    """
    libs = _libraries()
    before = [get() for _, get in libs]
    try:
        for setter, _ in libs:
            setter(int(n))
        yield
    finally:
        for (setter, _), k in zip(libs, before, strict=True):
            setter(int(k))


def single_threaded(func: F) -> F:
    """Decorator: ``func`` runs its BLAS products on one thread (see the module docstring); the numbers of
    threads before the outermost call are restored when it returns.

    Parameters
    ----------
    func : callable
        The function to wrap.
    """

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        outer = _state["depth"] == 0
        if outer:
            _libraries(refresh=True)  # libraries loaded since the last call
        _state["depth"] += 1
        try:
            if not outer:
                return func(*args, **kwargs)
            with blas_threads(1):
                return func(*args, **kwargs)
        finally:
            _state["depth"] -= 1

    return wrapped
