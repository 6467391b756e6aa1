"""Atomic writes and progress lines."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_T0 = time.perf_counter()
QUIET = False


def log(msg: str) -> None:
    """Print a progress line with elapsed seconds (stderr), unless quiet mode is on."""
    if not QUIET:
        print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def _clean_leftovers(target: Path) -> None:
    """Remove the temporary and superseded copies that a killed run left beside ``target`` (the caller holds the
    lock, so no other run is writing them)."""
    for p in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in target.parent.glob(f".{target.name}.old-*"):
        shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def dir_lock(target: Path) -> Iterator[None]:
    """An exclusive lock on ``target`` (a ``.NAME.lock`` file beside it); a second writer gets a clear error."""
    import fcntl

    from ._options import CeciError

    lock = target.parent / f".{target.name}.lock"
    fh = open(lock, "a+")  # noqa: SIM115 - held for the duration of the block
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CeciError(f"{target}: another run is writing this folder ({lock} is locked); wait for it to "
                            "finish") from None
        yield
    finally:
        fh.close()


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``.

    On failure the temporary folder is removed and ``target`` is left exactly as it was. A lock beside ``target``
    keeps two runs from writing it at once, and leftovers of a killed run are removed first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with dir_lock(target):
        _clean_leftovers(target)
        with _atomic_dir_locked(target) as tmp:
            yield tmp


@contextlib.contextmanager
def _atomic_dir_locked(target: Path) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o755)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    keep = [p for p in (target / "README.md",) if p.exists() and not (tmp / "README.md").exists()]
    for p in keep:
        shutil.copy2(p, tmp / p.name)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(target: str | Path, mode: str = "w", **kw) -> Iterator:
    """Open a temporary file beside ``target`` and rename it over ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with open(tmp, mode, **kw) as fh:
            yield fh
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
