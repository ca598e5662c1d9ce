"""uvicorn's HTTP/1.1 with the deadlines it lacks. uvicorn closes a connection idle between two
requests (its keep-alive timeout), but none that has not sent a whole request: its timer is
disarmed by any byte received and armed again only after a response. So connections that sent
nothing, or half a request, held their place for ever: 300 of them, opened once and left,
took all of the server's connections (MOST_CONNECTIONS), and every request after got a 503
for as long as they stayed open, from anyone, with or without a token (the token is read from
a whole request). Here a request must have arrived whole (its line, headers and body) within
REQUEST_WITHIN of the connection opening, of the previous request arriving whole (pipelined or
not) or of the last answer on it ending; past that the connection is closed.

Answers a client does not read are the kernel's to bound: the listening socket's
TCP_USER_TIMEOUT (server.bind) drops a connection whose sent bytes stay unacknowledged, or
untransmitted for a zero window, that long, and the answer buffered for it is let go."""

from __future__ import annotations

import asyncio
import logging

from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

log = logging.getLogger(__name__)

REQUEST_WITHIN = 30.0  # s: a browser or a feed reader sends a request of ours in milliseconds
UNREAD_WITHIN = 60.0  # s: TCP_USER_TIMEOUT, for the answers' bytes
# Bytes of a request's line and headers: neither uvicorn nor httptools bounds them, and httptools
# joins a header's pieces by concatenation, on the event loop: one header of 160 MB sent over
# 30 s held the whole process (the daemon's polls too) for seconds at a time.
MOST_HEAD_BYTES = 1 << 20
# Bytes of a request's line: httptools refuses one past 64 KiB with a bare 400 of its own.
MOST_LINE_BYTES = 65_000
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 44\r\n\r\nthe request's line and headers are too large"
)
_URL_TOO_LONG = (
    b"HTTP/1.1 414 URI Too Long\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 52\r\n\r\nthe request's URL is too long (at most 65,000 bytes)"
)


class DeadlinedHttp(HttpToolsProtocol):
    """HttpToolsProtocol closing a connection that has not sent a whole request in time, or
    whose request's line and headers grow past MOST_HEAD_BYTES.

    The deadline is armed when the connection opens, when a request has arrived whole (for the
    next one, pipelined or not) and when an answer ends. When it expires the connection is
    closed if a request has begun and not ended, or if nothing is being answered; an answer
    still being made for a whole request is left to finish (its end arms the deadline again)."""

    _deadline: asyncio.TimerHandle | None = None
    _partial = False  # a request has begun and not arrived whole
    _in_head = True  # the bytes arriving are a request's line and headers
    _line_open = True  # ... and its line has not ended yet
    _head_bytes = 0
    _answering: RequestResponseCycle | None = None  # the request whose answer is being made

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            line_open = self._line_open
            before, self._head_bytes = self._head_bytes, self._head_bytes + len(data)
            if line_open and b"\n" in data:
                self._line_open = False
            refusal = _TOO_LARGE if self._head_bytes > MOST_HEAD_BYTES else None
            if line_open and (before + (data.find(b"\n") if b"\n" in data else len(data))) > MOST_LINE_BYTES:
                refusal = _URL_TOO_LONG
            if refusal is not None:
                if not self.transport.is_closing():
                    self.transport.write(refusal)
                    self.transport.close()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._partial = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        if self.url.partition(b"?")[0] != b"/healthz":
            super().on_headers_complete()
            return
        # The orchestrator's probe is answered past MOST_CONNECTIONS too: a crowd the server
        # turns away is no reason to restart it (150 pipelining clients had it 503 in 29 of 45).
        limit, self.limit_concurrency = self.limit_concurrency, None
        try:
            super().on_headers_complete()
        finally:
            self.limit_concurrency = limit

    def on_message_complete(self) -> None:
        self._partial, self._in_head, self._line_open = False, True, True
        self._arm()  # for the next request
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        self._answering = cycle
        super()._start_asgi_task(cycle, app)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        # uvicorn tells only the newest request's cycle that the client is gone. With requests
        # pipelined, the one being answered is an older one, and its writes went on into the
        # closed transport: a RuntimeError and a traceback logged for each such connection.
        answering = self._answering
        if answering is not None and not answering.response_complete:
            answering.disconnected = True
            answering.message_event.set()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(REQUEST_WITHIN, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        answering = self.cycle is not None and not self.cycle.response_complete
        if self.transport.is_closing() or (answering and not self._partial):
            return
        # DEBUG: a crowd of such connections would otherwise fill the log as it fills the server.
        log.debug("closed a connection that sent no whole request within %g s", REQUEST_WITHIN)
        self.transport.close()
