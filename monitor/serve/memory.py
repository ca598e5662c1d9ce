"""Memory freed by large answers given back to the system once the server is idle.

An answer of fifty long articles is ten megabytes of text read, decoded and encoded; glibc keeps
what is freed, so after a crowd of such answers the server held what the crowd needed (370 MB
of a 410 MB peak, two seconds later: bench.slow_searches --mix long). When the last request in
flight ends and the answers since the last release came to GIVE_BACK_AFTER bytes or more, the
heap's free memory is given back (runtime/arenas.py), on a thread: trimming a large heap takes
milliseconds, which the event loop does not wait for. Under a steady load the server is never
idle and keeps what it uses, as it should.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.runtime.arenas import release_free_memory

GIVE_BACK_AFTER = 32 * 1024 * 1024  # bytes answered: a few large answers, or a few thousand small


class FreedMemoryGivenBack:
    """ASGI middleware counting the requests in flight and the bytes answered (see above)."""

    def __init__(self, app: ASGIApp, after_bytes: int = GIVE_BACK_AFTER) -> None:
        self.app, self.after_bytes = app, after_bytes
        self.in_flight = 0
        self.answered = 0  # bytes since memory was last given back

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.answered += len(message.get("body", b""))
            await send(message)

        self.in_flight += 1
        try:
            await self.app(scope, receive, counted)
        finally:
            self.in_flight -= 1
            if self.in_flight == 0 and self.answered >= self.after_bytes:
                self.answered = 0
                # Not awaited: the request is answered; the loop goes on while the heap is trimmed.
                asyncio.get_running_loop().run_in_executor(None, release_free_memory)
