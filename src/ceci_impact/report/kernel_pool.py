"""One Jupyter kernel per render worker, reused across the worker's runs.

Starting a kernel and importing pandas, matplotlib, SciPy and the library costs a few seconds of CPU; a render of
the default world executes 75 notebooks, 54 of them site profiles that compute for a few seconds each. A render
worker therefore keeps one kernel (:class:`PooledKernel`) and executes its runs in it one after the other, through
Papermill (same parameters cell, same cell metadata, same error markers and :class:`papermill.PapermillExecutionError`
as a fresh kernel: :class:`PooledEngine` only hands Papermill's client the kernel already running).

Between two runs the kernel is put back to the state of a fresh one (:func:`reset_kernel_state`, executed inside
the kernel): the user namespace and IPython's history and execution counter (``InteractiveShell.reset``, what
``%reset -f`` does, with a new session), open matplotlib figures and ``rcParams``, pandas and NumPy options,
warning filters *and the "already shown" registries* (a warning shown in one report is shown again in the next),
IPython display formatters and custom exception handlers, ``os.environ``, ``sys.path``, the logging root, the global
random states and the working directory. What stays are imported modules and the library's own caches, which are
keyed by the inputs they hold (e.g. :func:`ceci_impact.data.panels.load`), so a run reads the same values a fresh
kernel would.

A run that fails (an error in a cell, a cell timeout, a kernel that died or exited) never poisons the next: the
kernel is shut down right away (killed when it does not answer) and a new one starts for the next run. A kernel
whose memory grows past ``CECI_KERNEL_MAX_RSS_MB`` (default 4096) is replaced too, and a kernel that fails its reset
is restarted. ``ceci-impact render --fresh-kernels`` starts one kernel per run, as before.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

_SAVED: dict[str, Any] = {}  # kernel side: the state right after start-up, put back before every run


def _formatters_state(ip) -> dict:
    out = {}
    for mime, f in ip.display_formatter.formatters.items():
        out[mime] = (dict(getattr(f, "type_printers", {})), dict(getattr(f, "deferred_printers", {})),
                     dict(getattr(f, "singleton_printers", {})), getattr(f, "enabled", True))
    return out


def snapshot_kernel_state() -> None:
    """Kernel side, once after start-up: record the global state a fresh kernel has (see the module docstring).

    Imports pyplot first (the inline backend sets its ``rcParams`` and display formatter on that import, as it does
    in a fresh kernel when a notebook imports it).
    """
    import logging
    import warnings

    _SAVED.clear()
    with contextlib.suppress(ImportError):
        import matplotlib as mpl
        import matplotlib.pyplot  # noqa: F401  (the inline backend's settings are part of a fresh kernel's state)

        rc = dict(mpl.rcParams.copy())
        rc.pop("backend", None)
        _SAVED["rc"] = rc
    with contextlib.suppress(ImportError):
        import numpy as np

        _SAVED["np_err"] = np.geterr()
        _SAVED["np_print"] = np.get_printoptions()
    _SAVED["warn"] = (list(warnings.filters), warnings.showwarning, warnings.formatwarning)
    _SAVED["environ"] = dict(os.environ)
    _SAVED["path"] = list(sys.path)
    _SAVED["log"] = (list(logging.root.handlers), logging.root.level)
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:
        ip = None
    if ip is not None:
        _SAVED["formatters"] = _formatters_state(ip)


def reset_kernel_state(cwd: str) -> None:
    """Kernel side, before every run but the kernel's first: put back the state recorded by
    :func:`snapshot_kernel_state` (see the module docstring for the list).

    Parameters
    ----------
    cwd : str
        The run's working directory (the notebooks' folder).
    """
    import gc
    import logging
    import random
    import warnings

    from IPython import get_ipython

    ip = get_ipython()
    if ip is not None:
        ip.reset(new_session=True)  # namespace, Out/_ caches, history session, execution counter back to 1
        ip.set_custom_exc((), None)
        for mime, (types, deferred, singletons, enabled) in _SAVED.get("formatters", {}).items():
            f = ip.display_formatter.formatters.get(mime)
            if f is None:
                continue
            for name, value in (("type_printers", types), ("deferred_printers", deferred),
                                ("singleton_printers", singletons)):
                if hasattr(f, name):
                    current = getattr(f, name)
                    current.clear()
                    current.update(value)
            f.enabled = enabled
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close("all")
        if "rc" in _SAVED:
            rc = sys.modules["matplotlib"].rcParams
            getattr(rc, "_update_raw", lambda d: dict.update(rc, d))(_SAVED["rc"])  # no re-validation, no warning
    if "pandas" in sys.modules:
        sys.modules["pandas"].reset_option("all")
    if "np_err" in _SAVED:
        import numpy as np

        np.seterr(**_SAVED["np_err"])
        np.set_printoptions(**_SAVED["np_print"])
        np.random.seed()  # noqa: NPY002 - fresh entropy, as a new kernel's global state (reports seed their own)
    random.seed()
    filters, show, fmt = _SAVED.get("warn", (list(warnings.filters), warnings.showwarning, warnings.formatwarning))
    warnings.resetwarnings()  # bumps the filters' version: every module's "already shown" registry is stale, so a
    warnings.filters[:] = filters  # warning shown in one report is shown again in the next
    warnings.showwarning, warnings.formatwarning = show, fmt
    warnings.onceregistry.clear()
    if "environ" in _SAVED:
        for k in set(os.environ) - set(_SAVED["environ"]):
            del os.environ[k]
        for k, v in _SAVED["environ"].items():
            if os.environ.get(k) != v:
                os.environ[k] = v
    if "path" in _SAVED:
        sys.path[:] = _SAVED["path"]
    if "log" in _SAVED:
        logging.root.handlers[:] = _SAVED["log"][0]
        logging.root.setLevel(_SAVED["log"][1])
    os.chdir(cwd)
    gc.collect()


# binds no name in the user namespace (the reset empties it while the code runs)
_SNAPSHOT_CODE = "__import__('ceci_impact.report.kernel_pool', fromlist=['_']).snapshot_kernel_state()"
_RESET_CODE = "__import__('ceci_impact.report.kernel_pool', fromlist=['_']).reset_kernel_state({cwd!r})"
_CHDIR_CODE = "__import__('os').chdir({cwd!r})"


class KernelStateError(RuntimeError):
    """The kernel could not be reset to a fresh state (it is then restarted)."""


class PooledKernel:
    """A kernel kept by one render worker across its runs (worker side).

    Parameters
    ----------
    kernel_name : str
        The Jupyter kernel spec (``ceci-impact``).
    km_class : type, optional
        Kernel manager class (an ``AsyncKernelManager``; the render's IPC manager on POSIX).
    startup_timeout : float
        Seconds to wait for a starting kernel.
    max_rss_mb : float, optional
        Replace the kernel before a run when its resident memory exceeds this (default ``CECI_KERNEL_MAX_RSS_MB`` or
        4096).
    """

    def __init__(self, kernel_name: str, km_class: type | None = None, *, startup_timeout: float = 60,
                 max_rss_mb: float | None = None):
        self.kernel_name = kernel_name
        self.km_class = km_class
        self.startup_timeout = startup_timeout
        self.max_rss_mb = float(max_rss_mb if max_rss_mb is not None else os.environ.get("CECI_KERNEL_MAX_RSS_MB", 4096))
        self.km = None
        self.kc = None
        self.runs = 0  # runs executed by the current kernel
        self.started = 0  # kernels started by this pool
        self._fresh = False  # the current kernel has run nothing since its snapshot

    # -- async plumbing (nbclient runs its own calls on the same per-thread loop through jupyter_core.run_sync)
    @staticmethod
    def _sync(coro):
        from jupyter_core.utils import run_sync

        async def wrapped():
            return await coro

        return run_sync(wrapped)()

    async def _astart(self, cwd: str) -> None:
        if self.km_class is None:
            from jupyter_client.manager import AsyncKernelManager

            self.km_class = AsyncKernelManager
        km = self.km_class(kernel_name=self.kernel_name)
        # history in memory, as nbclient starts its kernels (two kernels never share IPython's history database)
        await km.start_kernel(cwd=cwd, extra_arguments=["--HistoryManager.hist_file=:memory:"])
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=self.startup_timeout)
        except BaseException:
            kc.stop_channels()
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)
            raise
        kc.allow_stdin = False
        self.km, self.kc = km, kc
        await self._acall(_SNAPSHOT_CODE, timeout=self.startup_timeout)
        self.runs, self._fresh = 0, True
        self.started += 1

    async def _acall(self, code: str, timeout: float) -> None:
        """Execute ``code`` silently and wait for its reply, checking every second that the kernel is alive (a
        kernel that exited at the end of the previous run is noticed at once, not after the timeout)."""
        import queue
        import time

        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = await self.kc.get_shell_msg(timeout=1)
            except queue.Empty:
                if not await self.km.is_alive():
                    raise KernelStateError("the kernel died") from None
                if time.monotonic() > deadline:
                    raise KernelStateError(f"the kernel did not answer within {timeout:g} s") from None
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise KernelStateError(f"{content.get('ename', 'error')}: {content.get('evalue', '')}")

    async def _aalive(self) -> bool:
        return self.km is not None and bool(await self.km.is_alive())

    async def _astop(self, now: bool) -> None:
        km, kc = self.km, self.kc
        self.km = self.kc = None
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        if km is None:
            return
        try:
            if await km.is_alive():
                await km.shutdown_kernel(now=now)
        except Exception:  # noqa: BLE001 - a kernel that does not answer is killed
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)
        finally:
            with contextlib.suppress(Exception):
                done = km.cleanup_resources()  # the connection file and the IPC socket files
                if hasattr(done, "__await__"):
                    await done

    def _process(self):
        import psutil

        prov = getattr(self.km, "provisioner", None)
        pid = getattr(prov, "pid", None) or getattr(getattr(prov, "process", None), "pid", None)
        try:
            return psutil.Process(pid) if pid else None
        except psutil.Error:
            return None

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) used so far by the current kernel (0 when there is none)."""
        import psutil

        p = self._process()
        with contextlib.suppress(psutil.Error):
            return sum(p.cpu_times()[:2]) if p else 0.0
        return 0.0

    def rss_mb(self) -> float:
        """Resident memory of the kernel process (MiB; 0 when unknown)."""
        import psutil

        p = self._process()
        with contextlib.suppress(psutil.Error):
            return p.memory_info().rss / 2**20 if p else 0.0
        return 0.0

    def prepare(self, cwd: str) -> None:
        """Make the kernel ready for a run in ``cwd``: start one when there is none or it died, else reset it to a
        fresh kernel's state (restarting it when the reset fails or its memory grew past the limit).

        Parameters
        ----------
        cwd : str
            Working directory of the run.
        """
        if self.km is not None and not self._sync(self._aalive()):
            self.stop(now=True)
        if self.km is not None and self.rss_mb() > self.max_rss_mb:
            self.stop(now=False)
        if self.km is None:
            self._sync(self._astart(cwd))
        if self._fresh:
            self._sync(self._acall(_CHDIR_CODE.format(cwd=cwd), timeout=30))
            return
        try:
            self._sync(self._acall(_RESET_CODE.format(cwd=cwd), timeout=30))
        except Exception:  # noqa: BLE001 - a kernel that cannot be reset is replaced
            self.stop(now=True)
            self._sync(self._astart(cwd))
            self._sync(self._acall(_CHDIR_CODE.format(cwd=cwd), timeout=30))

    def executed(self, ok: bool) -> None:
        """Record a finished run: after a failure the kernel is shut down at once (a new one starts for the next
        run), so an error, a timeout still computing or a dead kernel never reaches the next run.

        Parameters
        ----------
        ok : bool
            The run succeeded.
        """
        self.runs += 1
        self._fresh = False
        if not ok:
            self.stop(now=True)

    def stop(self, now: bool = False) -> None:
        """Shut the kernel down (``now``: kill it without asking) and remove its connection files.

        Parameters
        ----------
        now : bool
            Kill the kernel instead of asking it to shut down.
        """
        if self.km is None and self.kc is None:
            return
        with contextlib.suppress(Exception):
            self._sync(self._astop(now))
        self.km = self.kc = None


def pooled_engine():
    """Papermill's nbclient engine, executing in a :class:`PooledKernel` passed as ``pooled_kernel=`` (registered
    with Papermill under the name ``ceci-pooled``)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class PooledEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                     start_timeout=60, execution_timeout=None, **kwargs):
            pooled: PooledKernel = kwargs.pop("pooled_kernel")
            kwargs = remove_args(["input_path", "timeout", "startup_timeout", "kernel_manager_class"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, km=pooled.km, **final)
            client.kc = pooled.kc  # the kernel's client: nbclient neither starts nor stops a kernel it does not own
            return client.execute()

    papermill_engines.register("ceci-pooled", PooledEngine)
    return PooledEngine
