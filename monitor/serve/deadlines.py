"""uvicorn's HTTP/1.1 with the deadlines it lacks. uvicorn closes a connection idle between two
requests (its keep-alive timeout), but none that has not sent a whole request: its timer is
disarmed by any byte received and armed again only after a response. So connections that sent
nothing, or half a request, held their place for ever: 300 of them, opened once and left,
took all of the server's connections (MOST_CONNECTIONS), and every request after got a 503
for as long as they stayed open, from anyone, with or without a token (the token is read from
a whole request). Here a request must have arrived whole (its line, headers and body) within
REQUEST_WITHIN of the connection opening or of the last answer on it ending; past that the
connection is closed.

Answers a client does not read are the kernel's to bound: the listening socket's
TCP_USER_TIMEOUT (server.bind) drops a connection whose sent bytes stay unacknowledged, or
untransmitted for a zero window, that long, and the answer buffered for it is let go."""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

REQUEST_WITHIN = 30.0  # s: a browser or a feed reader sends a request of ours in milliseconds
UNREAD_WITHIN = 60.0  # s: TCP_USER_TIMEOUT, for the answers' bytes


class DeadlinedHttp(HttpToolsProtocol):
    """HttpToolsProtocol closing a connection that has not sent a whole request in time."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_complete(self) -> None:
        if self.cycle is not None and self.cycle.response_complete:
            self._arm()  # answered before it had all of it (a refusal): the next one is due
        else:
            self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        waiting = bool(self.pipeline)  # a request received whole while this one was answered
        super().on_response_complete()
        if not waiting and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(REQUEST_WITHIN, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            # DEBUG: a crowd of such connections would otherwise fill the log as it fills the server.
            log.debug("closed a connection that sent no whole request within %g s", REQUEST_WITHIN)
            self.transport.close()
