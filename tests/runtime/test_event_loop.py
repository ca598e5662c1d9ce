from __future__ import annotations

import asyncio
import signal
import sys
import threading

import pytest

from monitor.runtime import event_loop


async def _loop_kind() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
def test_commands_run_on_uvloop_where_it_is_installed() -> None:
    assert event_loop.run(_loop_kind()).startswith("uvloop")


def test_without_uvloop_the_commands_run_on_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert event_loop.run(_loop_kind()).startswith("asyncio")


def test_sigint_cancels_the_command_as_asyncio_run_does() -> None:
    async def waits_forever() -> None:
        threading.Timer(0.2, signal.raise_signal, (signal.SIGINT,)).start()
        await asyncio.sleep(30)

    with pytest.raises(KeyboardInterrupt):
        event_loop.run(waits_forever())
