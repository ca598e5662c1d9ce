"""Serving the API with uvicorn: alone (`monitor serve`) or beside the daemon's jobs in its event
loop (`monitor run` with `serve.listen`). The socket is bound first, so an address in use is a
clear error before anything starts, not a log line from inside the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import uvicorn

from monitor.archive import Archive
from monitor.config.settings import Settings, is_loopback, split_listen
from monitor.errors import MonitorError, UsageError
from monitor.metrics import Metrics
from monitor.serve.api import build_api
from monitor.serve.deadlines import UNREAD_WITHIN, DeadlinedHttp
from monitor.serve.memory import FreedMemoryGivenBack
from monitor.serve.web import Protections

log = logging.getLogger(__name__)
DEFAULT_LISTEN = "127.0.0.1:8080"
MOST_CONNECTIONS = 256
# Searches at once (the archive reads in parallel: SQLite WAL, PostgreSQL). Not a handful: a
# slow search (a one-letter prefix, 2 s at a million articles) must not hold quick ones behind it.
READ_THREADS = 32


class _Server(uvicorn.Server):
    """uvicorn's server, leaving SIGINT and SIGTERM to the command that runs it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(listen: str, settings: Settings) -> socket.socket:
    """A socket listening on host:port; UsageError off loopback without tokens, MonitorError
    when the address cannot be had."""
    try:
        host, port = split_listen(listen)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not is_loopback(host) and not settings.serve.tokens:
        raise UsageError(
            f"{listen} is off loopback: give serve.tokens in the config, so that only those who "
            "hold one can read the archive"
        )
    try:
        [(family, kind, protocol, _name, address)] = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[:1]
        listener = socket.socket(family, kind, protocol)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux; the connections accepted inherit it
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(UNREAD_WITHIN * 1000))
        listener.bind(address)
        listener.listen(128)
    except OSError as error:
        raise MonitorError(f"cannot listen on {listen}: {error.strerror or error}") from None
    return listener


async def serve(
    listener: socket.socket, archive: Archive, settings: Settings, metrics: Metrics, stopping: asyncio.Event
) -> None:
    """Answer on the bound socket until `stopping` is set, then finish the requests in flight."""
    # The read side's own threads: a crowd of searches does not queue the daemon's own work
    # (claims, writes), which runs on the loop's default executor.
    reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="monitor-read")
    api = build_api(archive, settings, metrics, reads)
    config = uvicorn.Config(
        # The protections outermost but for the count of what is answered (memory.py), so that
        # even the answer to a failure carries them.
        FreedMemoryGivenBack(Protections(api, settings.serve.tokens)),
        http=DeadlinedHttp,  # a connection must send its request in time (deadlines.py)
        log_level="warning",
        log_config=None,  # its lines go through the monitor's logging, in the daemon's format
        access_log=False,
        lifespan="off",
        # Beyond this many connections at once the requests of new ones get a 503 (they are
        # accepted, and held until deadlines.py's deadline: a file descriptor each meanwhile).
        limit_concurrency=MOST_CONNECTIONS,
    )
    server = _Server(config)
    running = asyncio.create_task(server.serve(sockets=[listener]))
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address, bracketed as a URL has it
    log.info(
        "serving the archive on http://%s:%d (the pages: /, the API: /api/v1, /openapi.json)", shown, port
    )
    stopped = asyncio.create_task(stopping.wait())
    await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    for waiting in api.state.searching:  # heavy searches still waiting would each run their whole limit
        waiting.stop()
    stopped.cancel()
    await running
    reads.shutdown(wait=False)
    listener.close()
    if not stopping.is_set():
        log.error("the read side stopped on its own (see above); the daemon goes on without it")
