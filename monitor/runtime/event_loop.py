"""The event loop every command runs on: libuv's (uvloop) where it is installed, as on Linux and
macOS, else asyncio's own. One loop for all, so the daemon, `once` and `serve` behave alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # Windows: uvloop has no build there
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main) on the loop above (SIGINT cancels `main`, as asyncio.run does)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
