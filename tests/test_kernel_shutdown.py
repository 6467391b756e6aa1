"""A finished notebook's kernel is shut down without an interrupt.

jupyter_client's ``shutdown_kernel`` sends SIGINT before the shutdown request; an interrupt that lands while the
kernel is inside a message handler makes ipykernel log "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel."
on a clean run. The render's kernel manager skips that interrupt (any other interrupt, e.g. on a timeout, is sent).
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from ceci_impact.report import render


@pytest.mark.skipif(os.name != "posix", reason="the IPC kernel manager is used on POSIX systems only")
def test_shutdown_sends_no_interrupt_but_a_timeout_still_does():
    km_class = render._ipc_kernel_manager()
    sent: list[int] = []

    class Recording(km_class):
        async def _async_signal_kernel(self, signum):
            sent.append(signum)
            await super()._async_signal_kernel(signum)

    async def run():
        km = Recording(kernel_name="python3")
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            await km.interrupt_kernel()  # what nbclient does on a cell timeout
            assert sent == [signal.SIGINT]
        finally:
            kc.stop_channels()
            await km.shutdown_kernel()
        assert sent == [signal.SIGINT], sent  # the shutdown itself sent none
        assert not await km.is_alive()

    asyncio.run(run())
