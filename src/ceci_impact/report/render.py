"""Render pipeline: run plan → Papermill (worker processes) → HTML without code → sidecars → index.

Guarantees
----------
- A lock file (``reports/.render.lock``) prevents overlapping renders (safe under cron/systemd).
- A failed run never replaces the last good report of that run: the notebook executes into a
  temporary file and HTML is written to a temporary path, renamed only on success. The failed
  executed notebook is kept as ``executed/<run>.failed.ipynb`` with ``results/<run>.failed.json``.
- Runs whose notebook, parameters, library code and input data are unchanged are skipped.
- HTML is self-contained: figures embedded as data, no external scripts, stylesheets or fonts.
- Disclosure control: at the end, ``ceci-impact disclosure-audit`` runs on the new reports; when anything
  employer-level is recoverable, the previous reports are put back (:func:`ceci_impact.report.gate.gate`).
- Speed: each worker keeps one kernel across its runs, reset to a fresh kernel's state between them and replaced
  after any failed run (:mod:`ceci_impact.report.kernel_pool`; ``fresh_kernels=True`` starts one per run). Runs are
  submitted in the plan's order (headline reports first); the index is written as soon as every run that is not a
  site or pole profile has finished, and again at the end.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from .._options import CeciError
from ..i18n import ALL_LANGS, LANGS
from ..io import atomic_file, check_name, inside, log
from .editions import export_edition
from .index_page import write_index
from .plan import Run, _plain, load_plan  # noqa: F401  (the run plan: report/plan.py)

KERNEL = "ceci-impact"
ROOT = Path(__file__).resolve().parents[3]


@functools.cache
def _ipc_kernel_manager():
    """Kernel manager talking to the kernel over local Unix sockets (IPC) instead of TCP on localhost.

    Rendering runs the kernel on this machine; IPC keeps code and outputs off the network stack (and avoids
    ipykernel's warning about unencrypted TCP on every start). Falls back to TCP where IPC is unavailable.
    """
    if os.name != "posix":
        return None
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, default

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _ip_default(self):  # a socket path of its own: parallel workers must not share sockets
            return os.path.join(tempfile.gettempdir(), f"ceci-kernel-{uuid.uuid4().hex[:16]}")

        async def _async_interrupt_kernel(self):
            # jupyter_client's shutdown_kernel sends an interrupt (SIGINT) before the shutdown request. nbclient
            # shuts the kernel down after the last cell (or after its own interrupt on a timeout), so the signal
            # only lands in ipykernel's message handler, which logged "[IPKernelApp] ERROR | KeyboardInterrupt
            # caught in kernel." on every clean run. No interrupt during shutdown; any other (a timeout) as before.
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return IPCKernelManager


def ensure_kernel(quiet: bool = True) -> None:
    """Register the ``ceci-impact`` Jupyter kernel inside this environment (idempotent).

    Parameters
    ----------
    quiet : bool
        Print nothing when the kernel is registered.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    ksm = KernelSpecManager()
    spec_dir = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL
    current = None
    with contextlib.suppress(Exception):
        current = ksm.get_kernel_spec(KERNEL)
    if current is not None and current.argv and Path(current.argv[0]) == Path(sys.executable):
        return
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (ceci-impact)", "language": "python",
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }, indent=1))
    if not quiet:
        log(f"registered Jupyter kernel {KERNEL!r} at {spec_dir}")


def library_hash() -> str:
    """Hash of everything of the library that shapes a report (part of the incremental key): its source, its
    message catalogues (a corrected translation must re-render the pages) and its shipped reference data."""
    h = hashlib.sha256()
    pkg = Path(__file__).parents[1]
    files = [*pkg.rglob("*.py"), *pkg.glob("messages/*.toml"), *pkg.glob("reference_data/**/*.json")]
    for f in sorted(files):
        h.update(f.relative_to(pkg).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def code_version() -> str:
    """``git`` commit of the checkout (with ``-dirty``), else the package version."""
    from .. import __version__

    try:
        sha = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def _fingerprint_for(run: Run, nbdir: Path) -> str:
    processed = (nbdir / run.parameters.get("processed", "../data/processed")).resolve()
    m = processed / "manifest.json"
    if m.exists():
        return json.loads(m.read_text()).get("fingerprint", "none")
    req = run.requires and (nbdir / run.requires)
    return hashlib.sha256(str(req).encode()).hexdigest()[:16] if req else "none"


def run_key(run: Run, nbdir: Path, lib: str, fp: str) -> str:
    """The key of a run's inputs: notebook bytes, parameters, library code and data fingerprint (a changed key re-runs it).

    Parameters
    ----------
    run : Run
        The run.
    nbdir : pathlib.Path
        Folder of the notebooks.
    lib : str
        Hash of the library code (:func:`library_hash`).
    fp : str
        Fingerprint of the data (the panels' manifest).
    """
    h = hashlib.sha256()
    h.update((nbdir / run.notebook).read_bytes())
    h.update(json.dumps(run.parameters, sort_keys=True).encode())
    h.update(lib.encode())
    h.update(fp.encode())
    return h.hexdigest()[:20]


# ----------------------------------------------------------------------------------------- HTML


# ----------------------------------------------------------------------------------------- runs


def _failure_line(exc: BaseException, run: Run, nbdir: Path) -> str:
    """One line saying why a run failed: the cell of the source notebook (1-based, Papermill's injected
    parameters cell not counted), the exception and its message."""
    ename = getattr(exc, "ename", None) or ("CeciError" if run.error else type(exc).__name__)
    if run.error:
        evalue = run.error
    elif getattr(exc, "ename", None):  # a kernel error: its own message, even when empty (never the banner text)
        evalue = str(getattr(exc, "evalue", "") or "")
    else:
        evalue = str(exc)
    evalue = evalue.strip()
    cell = getattr(exc, "cell_index", None)
    if isinstance(cell, int):
        with contextlib.suppress(Exception):
            import nbformat

            src = nbformat.read(nbdir / run.notebook, as_version=4)
            ip = next(i for i, c in enumerate(src.cells) if "parameters" in c.metadata.get("tags", []))
            cell -= cell > ip  # the injected-parameters cell follows the parameters cell
    where = f"cell {cell + 1}: " if isinstance(cell, int) else ""
    msg = next((ln.strip() for ln in evalue.splitlines() if re.search(r"\w", ln)), "")
    tb = [ln for t in (getattr(exc, "traceback", None) or []) for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(t)).splitlines()]
    if not msg and not tb and not getattr(exc, "ename", None):  # nbclient's bare CellExecutionError: parse its text
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        last = [ln.strip() for ln in text.splitlines() if re.match(r"\s*\w+(Error|Exception|Exit|Interrupt)\b", ln)]
        if last:
            ename, _, msg = last[-1].partition(":")
            msg = msg.strip()
    if not msg:  # no message: the line of code that raised, from the traceback (the arrow marks it)
        arrows = [re.sub(r"^-+>\s*\d*\s*", "", ln).strip() for ln in tb if re.match(r"^-+>", ln.strip())]
        named = [ln.split(":", 1)[1].strip() for ln in tb if ln.startswith(f"{ename}:") and ln.split(":", 1)[1].strip()]
        msg = named[-1] if named else f"raised at `{arrows[-1]}`" if arrows else ""
    return f"{where}{ename}: {msg}" if msg else f"{where}{ename}"


BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def blas_threads_per_kernel(workers: int) -> int:
    """BLAS threads of each kernel: the cores shared among the workers, at least one.

    Every worker runs one kernel at a time; with OpenBLAS's default (one thread per core) two workers on two cores
    run four threads that wait for one another (on a busy 2-core machine a 70_outcome_report run took 18.3 s of CPU
    with two threads and 11.9 s with one; docs/benchmarks.md). Estimates move by float rounding at most
    (the estimators already run on one thread, :mod:`ceci_impact._blas`; what else uses BLAS then splits its
    products as on a machine with fewer cores).

    Parameters
    ----------
    workers : int
        Render workers running at once.
    """
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _worker_init(blas: int | None = None) -> None:
    """Render workers die with the render process (Linux: parent-death signal), so a killed render never leaves a
    worker writing reports; their kernels exit when their parent is gone (ipykernel's parent poller). ``blas``: the
    BLAS threads of the kernels the worker starts (:func:`blas_threads_per_kernel`), unless the user set them."""
    if blas:
        for var in BLAS_THREAD_VARS:
            os.environ.setdefault(var, str(int(blas)))
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop_workers(ex: cf.ProcessPoolExecutor) -> None:
    """Terminate every worker and its kernels (the whole process tree), then wait for them."""
    import psutil

    procs = []
    for p in list(getattr(ex, "_processes", {}).values()):
        with contextlib.suppress(psutil.Error):
            w = psutil.Process(p.pid)
            procs += [*w.children(recursive=True), w]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=5)
    ex.shutdown(wait=False, cancel_futures=True)


def _clean_leftovers(reports: Path) -> None:
    """Temporary files of a killed render (the caller holds the lock)."""
    for pattern in ("executed/.*.running.ipynb", "results/.*.headline.json", "html/.*.tmp", "results/.*.tmp"):
        for f in reports.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                f.unlink()


_POOL = None  # a render worker's kernel, kept across its runs (kernel_pool.PooledKernel)


def _worker_kernel():
    """The worker's :class:`~ceci_impact.report.kernel_pool.PooledKernel` (created on the first run; shut down when
    the worker process exits)."""
    global _POOL
    if _POOL is None:
        from multiprocessing import util

        from .kernel_pool import PooledKernel, pooled_engine

        pooled_engine()
        _POOL = PooledKernel(KERNEL, _ipc_kernel_manager())
        util.Finalize(None, _POOL.stop, exitpriority=10)
    return _POOL


def _cpu_seconds(pool) -> float:
    """CPU seconds (user + system) of this worker, of its finished kernels and of its kept kernel: the difference
    over a run is the run's CPU time, which the machine's other load does not inflate as it does wall time."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime + (pool.cpu_seconds() if pool else 0.0)


def _execute(run: dict, nbdir: str, reports: str, timeout: int, key: str, fp: str, version: str,
             nav: dict | None = None, fresh_kernel: bool = False) -> dict:
    """Worker: execute one run once; on success write its Spanish and English HTML editions, the executed notebook
    and the sidecar atomically. ``nav`` names the previous and next runs of the plan (the editions link them).
    The run executes in the worker's kept kernel, or in a kernel of its own with ``fresh_kernel``."""
    import papermill as pm

    run = Run(**run)
    nbdir, reports = Path(nbdir), Path(reports)
    check_name(run.name, "run name")
    out_nb = inside(reports, "executed", f"{run.name}.ipynb")
    tmp_nb = inside(reports, "executed", f".{run.name}.running.ipynb")
    headline_tmp = inside(reports, "results", f".{run.name}.headline.json")
    for d in ("executed", "results", *LANGS):
        (reports / d).mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    params = {**run.parameters, "results_path": str(headline_tmp.resolve())}
    side = {"run": run.name, "notebook": run.notebook, "group": run.group, "parameters": _plain(run.parameters),
            "started": started.isoformat(timespec="seconds"), "key": key, "data_fingerprint": fp,
            "code_version": version, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    with contextlib.suppress(FileNotFoundError):
        headline_tmp.unlink()
    pool = None
    cpu0 = _cpu_seconds(None)
    try:
        if run.error:
            raise RuntimeError(run.error)
        if fresh_kernel:
            km_class = _ipc_kernel_manager()
            engine = {"kernel_manager_class": km_class} if km_class else {}
        else:
            pool = _worker_kernel()
            cpu0 += pool.cpu_seconds()  # the kept kernel's CPU before this run (0 when it starts now)
            pool.prepare(str(nbdir.resolve()))
            engine = {"engine_name": "ceci-pooled", "pooled_kernel": pool}
        pm.execute_notebook(str(nbdir / run.notebook), str(tmp_nb), parameters=params, kernel_name=KERNEL,
                            cwd=str(nbdir), execution_timeout=timeout, progress_bar=False, log_output=False,
                            report_mode=False, **engine)
    except Exception as exc:  # papermill wraps kernel errors; keep one line with the cell and the message
        if pool is not None:
            pool.executed(ok=False)  # the next run gets a new kernel: nothing of this one reaches it
        line = _failure_line(exc, run, nbdir)
        if tmp_nb.exists():
            os.replace(tmp_nb, inside(reports, "executed", f"{run.name}.failed.ipynb"))
        side.update(status="failed", error=line[:500], duration_s=round(time.perf_counter() - t0, 2))
        with atomic_file(inside(reports, "results", f"{run.name}.failed.json")) as fh:
            json.dump(side, fh, indent=1, allow_nan=False)
        return side
    if pool is not None:
        pool.executed(ok=True)
    headline = {}
    if headline_tmp.exists():
        headline = json.loads(headline_tmp.read_text())
        headline_tmp.unlink()
    execute_s = round(time.perf_counter() - t0, 2)
    side.update(status="ok", finished=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), results=headline,
                html=f"{LANGS[0]}/{run.name}.html", editions={k: f"{k}/{run.name}.html" for k in LANGS},
                executed=f"executed/{run.name}.ipynb")
    meta = {"run": run.name, "rendered": side["finished"], "code": version, "data": fp}
    import nbformat

    nb = nbformat.read(tmp_nb, as_version=4)
    for lang in LANGS:  # both editions from the one execution
        page = export_edition(nb, run.name, meta, lang, {"name": run.name, **(nav or {})}, Path(run.notebook).stem)
        with atomic_file(inside(reports, lang, f"{run.name}.html"), encoding="utf-8") as fh:
            fh.write(page)
    side.update(duration_s=round(time.perf_counter() - t0, 2), execute_s=execute_s,
                cpu_s=round(_cpu_seconds(pool) - cpu0, 2))
    os.replace(tmp_nb, out_nb)
    with atomic_file(inside(reports, "results", f"{run.name}.json")) as fh:
        json.dump(side, fh, indent=1, allow_nan=False)
    for stale in (inside(reports, "executed", f"{run.name}.failed.ipynb"),
                  inside(reports, "results", f"{run.name}.failed.json")):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    return side


def _run_all(ex: cf.ProcessPoolExecutor, todo: list, runs: list[Run], nbdir: Path, reports: Path, timeout: int,
             version: str, bar, fresh_kernels: bool) -> list[dict]:
    """Submit the runs in the plan's order and collect their sidecars as they finish. The index is written as soon as
    every run that is not a site or pole profile (``expanded``) has finished, so readers have the headline reports
    before the profiles; the caller writes it again at the end."""
    order = [r.name for r in runs]
    nav = {n: {"prev": order[i - 1] if i else None, "next": order[i + 1] if i + 1 < len(order) else None}
           for i, n in enumerate(order)}
    futs = {ex.submit(_execute, asdict(r), str(nbdir), str(reports), timeout, key, fp, version, nav[r.name],
                      fresh_kernels): r for r, key, fp in todo}
    headline_left = sum(not r.expanded for r, _, _ in todo)
    early = headline_left > 0 and headline_left < len(todo)  # an early index only when profiles follow
    out = []
    for fut in cf.as_completed(futs):
        r = futs[fut]
        try:
            side = fut.result()
        except Exception as exc:  # a crashed worker is a failed run, not a failed render
            side = {"run": r.name, "group": r.group, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        out.append(side)
        if bar:
            bar.update(1)
            bar.set_postfix_str(f"{r.name}: {side['status']}")
        headline_left -= not r.expanded
        if early and headline_left == 0:
            early = False
            write_index(reports)
            if bar:  # progress stays visible: one line above the bar
                n_fail = sum(s["status"] == "failed" for s in out)
                bar.write(f"render: headline reports done ({len(out)} runs, {n_fail} failed), index written -> "
                          f"{reports / LANGS[0] / 'index.html'}; {len(todo) - len(out)} profiles to go",
                          file=sys.stderr)
    return out


@contextlib.contextmanager
def _terminate_on_signal(ex: cf.ProcessPoolExecutor):
    """SIGTERM and SIGINT stop the workers and their kernels before the render exits (the lock is held until
    they are gone, and no partial report replaces a good one: every write is a rename of a finished file)."""
    import signal

    class _Stop(Exception):
        pass

    def handler(signum, frame):
        raise _Stop(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
        ex.shutdown(wait=True)
    except (_Stop, KeyboardInterrupt) as exc:
        _stop_workers(ex)
        raise CeciError(f"render stopped by {exc or 'SIGINT'}: workers and kernels ended, finished reports kept, "
                        "the run in progress left as it was before") from None
    except BaseException:
        _stop_workers(ex)
        raise
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


RENDER_MARK = ".ceci-render.json"  # written into every folder a render writes: the folder's files are the render's
RENDER_ENTRIES = frozenset({"index.html", "results", "executed", *ALL_LANGS, ".render.lock", RENDER_MARK, "README.md"})


def check_reports_folder(reports: Path) -> None:
    """Refuse a reports folder holding files that ``render`` did not write (the rule ``build`` keeps for its output
    folder): render writes ``index.html`` and the folders ``es/``, ``en/``, ``results/`` and ``executed/``, and
    marks its folder with ``.ceci-render.json``. An unmarked folder is accepted when it holds only those names, and an
    ``index.html`` only beside ``results/`` (reports of an earlier version).

    Parameters
    ----------
    reports : pathlib.Path
        The reports folder to write.
    """
    if not reports.exists():
        return
    if not reports.is_dir():
        raise CeciError(f"--reports {reports} is a file; expected a folder for the reports")
    if (reports / RENDER_MARK).exists():
        return
    names = sorted(p.name for p in reports.iterdir())
    foreign = [n for n in names if n not in RENDER_ENTRIES]
    if "index.html" in names and not (reports / "results").is_dir():  # a page of the user's, not of a render
        foreign.append("index.html")
    if foreign:
        shown = foreign
        raise CeciError(f"--reports {reports} holds files that ceci-impact render did not write ({', '.join(shown[:5])}"
                        f"{', ...' if len(shown) > 5 else ''}); expected an empty folder or earlier reports — move "
                        "them or choose another --reports")


def _mark(reports: Path, version: str) -> None:
    if not (reports / RENDER_MARK).exists():
        with atomic_file(reports / RENDER_MARK) as fh:
            json.dump({"written_by": "ceci-impact render", "code_version": version,
                       "entries": sorted(RENDER_ENTRIES - {RENDER_MARK})}, fh, indent=1)


@contextlib.contextmanager
def _lock(reports: Path):
    reports.mkdir(parents=True, exist_ok=True)
    fh = open(reports / ".render.lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise CeciError(f"another `ceci-impact render` holds {reports / '.render.lock'}; try again later") from None
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def render(plan: str | Path = "notebooks/runplan.toml", reports: str | Path = "reports", *, jobs: int | None = None,
           only: str | None = None, force: bool = False, timeout: int = 900, overrides: list[str] | None = None,
           quiet: bool = False, fresh_kernels: bool = False) -> bool:
    """Execute the run plan; returns True when no run failed. See module docstring for guarantees.

    Parameters
    ----------
    plan : str or pathlib.Path
        The run plan (``notebooks/runplan.toml``).
    reports : str or pathlib.Path
        Output folder of the reports.
    jobs : int, optional
        Worker processes (default: the CPU count, at most the runs).
    only : str, optional
        Run only the runs whose name contains this text.
    force : bool
        Re-run runs whose inputs are unchanged.
    timeout : int
        Seconds a cell may run.
    overrides : list of str, optional
        ``NAME=VALUE`` parameters applied to every run that has them (checked against the schemas).
    quiet : bool
        No progress bar.
    fresh_kernels : bool
        Start a new kernel for every run instead of keeping one per worker (:mod:`ceci_impact.report.kernel_pool`).
    """
    reports = Path(reports)
    ensure_kernel(quiet=True)
    runs, nbdir = load_plan(plan, overrides)
    if only is not None:
        kept = [r for r in runs if only in r.name]
        if not kept:
            shown = ", ".join(r.name for r in runs[:6]) + (", ..." if len(runs) > 6 else "")
            raise CeciError(f"--only {only!r}: no run of {plan} has a name containing it; expected part of a run name "
                            f"({shown})")
        runs = kept
    lib, version = library_hash(), code_version()
    jobs = jobs or os.cpu_count() or 1
    results: list[dict] = []
    check_reports_folder(reports)
    with _lock(reports):
        _mark(reports, version)
        _clean_leftovers(reports)
        from .gate import gate, snapshot  # disclosure control: the previous reports stay until the audit passes

        snapshot(reports)
        todo = []
        for r in runs:
            fp = _fingerprint_for(r, nbdir)
            key = run_key(r, nbdir, lib, fp)
            prev = inside(reports, "results", f"{r.name}.json")
            if r.requires and not (nbdir / r.requires).exists():
                side = {"run": r.name, "notebook": r.notebook, "group": r.group, "parameters": r.parameters,
                        "status": "skipped", "reason": f"data folder {r.requires} not found (real data absent)",
                        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
                results.append(side)
                (reports / "results").mkdir(parents=True, exist_ok=True)
                with atomic_file(inside(reports, "results", f"{r.name}.skipped.json")) as fh:
                    json.dump(side, fh, indent=1)
                continue
            failed_before = inside(reports, "results", f"{r.name}.failed.json").exists()
            if not force and prev.exists() and not failed_before:  # a run that failed last time runs again
                old = json.loads(prev.read_text())
                if old.get("key") == key and old.get("status") == "ok" and (reports / old.get("html", "")).exists():
                    results.append({**old, "unchanged": True})
                    continue
            todo.append((r, key, fp))
        bar = None
        if not quiet:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc="render", unit="run", file=sys.stderr)
        ctx = mp.get_context("spawn")
        workers = max(1, min(jobs, len(todo) or 1))
        ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                    initargs=(blas_threads_per_kernel(workers),))
        with _terminate_on_signal(ex):
            results += _run_all(ex, todo, runs, nbdir, reports, timeout, version, bar, fresh_kernels)
        if bar:
            bar.close()
        write_index(reports)
        audited = gate(reports, [(nbdir / r.parameters.get("processed", "../data/processed")) for r in runs], quiet)
    failed = [s for s in results if s["status"] == "failed"]
    skipped = [s for s in results if s["status"] == "skipped"]
    if not quiet:
        n_ok = sum(s["status"] == "ok" and not s.get("unchanged") for s in results)
        n_same = sum(bool(s.get("unchanged")) for s in results)
        log(f"render: {n_ok} rendered, {n_same} unchanged, {len(skipped)} skipped, {len(failed)} failed "
            f"-> {reports / LANGS[0] / 'index.html'}")
        for s in skipped:
            log(f"  skipped {s['run']}: {s['reason']}")
    for s in failed:
        print(f"FAILED {s['run']}: {s.get('error', '')}", file=sys.stderr)
    return not failed and audited
