"""The render's publication gate: the previous reports stay published until the new ones pass the disclosure audit.

Before any run, :func:`snapshot` keeps the published files (hard links; every render write is a rename of a finished
file, so a link keeps the old content). At the end, :func:`gate` runs :func:`ceci_impact.report.audit.disclosure_audit`;
when anything is recoverable it prints the findings, :func:`rollback` removes the files this render created and puts
the previous ones back, and the render fails. A render killed before its audit leaves the snapshot, and the next
render rolls it back first (that output was never audited).
"""

from __future__ import annotations

from pathlib import Path

from .._options import CeciError
from .audit import Finding, disclosure_audit

SNAPSHOT = ".previous"  # inside the reports folder: the published files as they were before this render


def _published_files(reports: Path) -> list[Path]:
    return [p for p in reports.rglob("*") if (p.is_file() or p.is_symlink()) and SNAPSHOT not in
            p.relative_to(reports).parts[:1] and p.name != ".render.lock"]


def snapshot(reports: str | Path) -> Path:
    """Keep the published files as they are before a render (hard links: every render write is a rename of a
    finished file, so a link keeps the old content; a copy where links are not possible). A snapshot left by a
    render that was killed before its audit is rolled back first: its output was never audited.

    Parameters
    ----------
    reports : str or Path
        The render's folder (the caller holds the render lock).
    """
    import os
    import shutil

    reports = Path(reports)
    snap = reports / SNAPSHOT
    if snap.exists():
        rollback(reports)
    for f in _published_files(reports):
        dst = snap / f.relative_to(reports)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, dst, follow_symlinks=False)
        except OSError:
            shutil.copy2(f, dst, follow_symlinks=False)
    snap.mkdir(parents=True, exist_ok=True)
    return snap


def rollback(reports: str | Path) -> None:
    """Put back the files of the snapshot and remove the files this render created (none other is touched).

    Parameters
    ----------
    reports : str or Path
        The render's folder.
    """
    import os
    import shutil

    reports = Path(reports)
    snap = reports / SNAPSHOT
    kept = {p.relative_to(snap) for p in snap.rglob("*") if p.is_file() or p.is_symlink()}
    for f in _published_files(reports):
        if f.relative_to(reports) not in kept:
            f.unlink()
    for rel in kept:
        (reports / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(snap / rel, reports / rel)
    shutil.rmtree(snap)


def release(reports: str | Path) -> None:
    """Drop the snapshot after a render whose audit passed.

    Parameters
    ----------
    reports : str or Path
        The render's folder.
    """
    import shutil

    shutil.rmtree(Path(reports) / SNAPSHOT, ignore_errors=True)


def gate(reports: str | Path, processed: list[Path], quiet: bool = False) -> bool:
    """End of a render: run the audit on the new reports; when anything is recoverable, print the findings, restore
    the previous reports (:func:`rollback`) and return False; otherwise drop the snapshot and return True.

    Parameters
    ----------
    reports : str or Path
        The render's folder.
    processed : list of Path
        The confidential panels the runs read.
    quiet : bool
        Do not print the summary line of a passing audit.
    """
    import sys

    reports = Path(reports)
    found: list[Finding] = []
    try:
        for p in sorted({Path(x).resolve() for x in processed}):
            if (p / "employer_month.parquet").exists():
                found += disclosure_audit(reports, p, quiet=True)
    except Exception as exc:  # an audit that cannot run publishes nothing
        rollback(reports)
        raise CeciError(f"render: the disclosure audit could not run ({type(exc).__name__}: {exc}); {reports} keeps "
                        "the previous reports") from exc
    if not found:
        release(reports)
        return True
    for x in found:
        print(x.line(), file=sys.stderr)
    rollback(reports)
    print(f"error: render: the disclosure audit found {len(found)} way(s) to recover employer-level data from the new "
          f"reports (listed above); they were not published and {reports} keeps the previous reports "
          "(docs/disclosure.md)", file=sys.stderr)
    return False
