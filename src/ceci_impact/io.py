"""Atomic writes and progress lines."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_T0 = time.perf_counter()
QUIET = False


def log(msg: str) -> None:
    """Print a progress line with elapsed seconds (stderr), unless quiet mode is on.

    Parameters
    ----------
    msg : str
        The line to print.
    """
    if not QUIET:
        print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def _clean_leftovers(target: Path) -> None:
    """Remove the temporary and superseded copies that a killed run left beside ``target`` (the caller holds the
    lock, so no other run is writing them): only folders named exactly as :func:`atomic_dir` names them, never a
    user's file that merely starts the same way."""
    ours = re.compile(re.escape(f".{target.name}.") + r"(tmp-[A-Za-z0-9_]{8}|old-[0-9]+)")
    for p in target.parent.glob(f".{target.name}.*"):
        if ours.fullmatch(p.name) and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def dir_lock(target: Path) -> Iterator[None]:
    """An exclusive lock on ``target`` (a ``.NAME.lock`` file beside it); a second writer gets a clear error.

    Parameters
    ----------
    target : pathlib.Path
        The file or folder to lock.
    """
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


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,119}")


def check_name(value: object, where: str) -> str:
    """A data- or plan-derived identifier that may name a file: letters, digits, ``_ . -``, starting with a letter or
    digit, at most 120 characters (so never empty, never ``..``, never a path separator or markup).

    Parameters
    ----------
    value
        The identifier (a site id, a run name).
    where
        What it is and where it came from (file and row, parameter), for the one-line error.
    """
    from ._options import CeciError

    text = str(value) if value is not None else ""
    if not SAFE_NAME.fullmatch(text) or ".." in text:
        raise CeciError(f"{where}: found {text!r}, expected an identifier of letters, digits, '_', '.' or '-' "
                        "(starting with a letter or digit, at most 120 characters)")
    return text


def inside(root: str | Path, *parts: str) -> Path:
    """``root / parts`` after checking that the result stays inside ``root`` (resolved, symbolic links followed).

    Parameters
    ----------
    root
        The output folder (``reports``, ``data/processed``).
    *parts
        Path components built from names (run names, site ids).
    """
    from ._options import CeciError

    base = Path(root).resolve()
    out = base.joinpath(*parts).resolve()
    if not out.is_relative_to(base) or out == base:
        raise CeciError(f"{'/'.join(parts)}: the name would write outside the output folder {root}; expected a "
                        "plain file name")
    return Path(root).joinpath(*parts)


def _make_parent(target: Path) -> None:
    """Create the parent folder of ``target``, but never through ``..`` (a name that climbs out of its folder)."""
    from ._options import CeciError

    if target.parent.is_dir():
        return
    if ".." in target.parts:
        raise CeciError(f"{target}: its folder does not exist and is not created through '..'; expected an existing "
                        "folder or a path without '..'")
    target.parent.mkdir(parents=True, exist_ok=True)


def regular_file(path: str | Path, what: str = "input") -> Path:
    """``path`` if it is a regular file (or absent); a FIFO, device, socket or folder in its place is an error, so
    that reading it never hangs.

    Parameters
    ----------
    path
        The input file.
    what
        What the file should be, for the message.
    """
    from ._options import CeciError

    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return path
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "a folder"
                if stat.S_ISDIR(st.st_mode) else "not a regular file")
        raise CeciError(f"{path}: is {kind}; expected a regular file ({what})")
    return path


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``.

    On failure the temporary folder is removed and ``target`` is left exactly as it was. A lock beside ``target``
    keeps two runs from writing it at once, and leftovers of a killed run are removed first.

    Parameters
    ----------
    target : str or pathlib.Path
        The folder to write (replaced only on success).
    """
    target = Path(target)
    _make_parent(target)
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
    """Open a temporary file beside ``target`` and rename it over ``target`` on success.

    Parameters
    ----------
    target : str or pathlib.Path
        The file to write (replaced only on success).
    mode : str
        Mode in which the temporary file is opened, as for :func:`open`.
    **kw
        Further arguments of :func:`open` (e.g. ``encoding``).
    """
    target = Path(target)
    _make_parent(target)
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
