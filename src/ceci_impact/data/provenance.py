"""Provenance of a build: the fingerprint of the raw data and options, and the check that nothing changed while the
build read the raw folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .._options import CeciError


def _raw_files(raw: Path) -> list[Path]:
    return sorted(f for f in Path(raw).rglob("*") if f.is_file() and not f.name.startswith("."))


def raw_state(raw: str | Path) -> dict[str, tuple[int, int, int]]:
    """Size, modification time and inode of every raw file: compared before and after a build, so that a file
    changed while it was read is detected.

    Parameters
    ----------
    raw : str or pathlib.Path
        The raw-data folder.
    """
    raw = Path(raw)
    out = {}
    for f in _raw_files(raw):
        st = f.stat()
        out[str(f.relative_to(raw))] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def fingerprint(raw: str | Path, options: dict | None = None) -> str:
    """Fingerprint of a build: the raw folder's names, sizes and content hashes (files up to 64 MB; larger ones by
    modification time) and the build ``options`` that change the panels (rings, exposure, ...).

    Parameters
    ----------
    raw
        Raw-data folder.
    options
        Build options recorded in the fingerprint (JSON-serialisable), so that a rebuild with other options makes
        ``render`` re-run the reports that read the panels.
    """
    h = hashlib.sha256()
    for f in _raw_files(Path(raw)):
        st = f.stat()
        h.update(f"{f.relative_to(raw)}|{st.st_size}".encode())
        if st.st_size <= 64 * 2**20:
            h.update(hashlib.sha256(f.read_bytes()).digest())
        else:
            h.update(str(st.st_mtime_ns).encode())
    if options:
        h.update(json.dumps(options, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def check_unchanged(raw: Path, before: dict[str, tuple[int, int, int]]) -> None:
    """Error when a raw file was added, removed or changed while the build read the folder.

    Parameters
    ----------
    raw : pathlib.Path
        The raw-data folder.
    before : dict
        Its :func:`raw_state` taken before the build read it.
    """
    after = raw_state(raw)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        raise CeciError(f"{raw / changed[0]}: changed while the build was reading it ({len(changed)} file(s) changed); "
                        "expected the raw data to stay unchanged during a build — build again")
