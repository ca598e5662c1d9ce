"""A connection must send a whole request in time (serve/deadlines.py): connections that send
nothing, or half a request, no longer hold the server's places for ever, while requests
spaced out on one connection, a request sent slowly within the deadline and an answer that
takes longer than it are served. The real server (serve.serve) in this process, with a
deadline of a second."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.archive.backends import open_archive
from monitor.config.loading import load_settings
from monitor.metrics import Metrics
from monitor.serve import deadlines
from monitor.serve.server import MOST_CONNECTIONS, bind, serve
from tests.configs import monitor_config
from tests.serve.conftest import archive_with_articles, free_port, start_serving, stop, wait_until_up

DEADLINE = 1.0
GET = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, Any]]:
    """(port, archive) of a server answering in a thread of its own."""
    monkeypatch.setattr(deadlines, "REQUEST_WITHIN", DEADLINE)
    archive_with_articles(tmp_path)
    settings = load_settings(monitor_config(tmp_path))
    archive = open_archive(settings)
    port = free_port()
    listener = bind(f"127.0.0.1:{port}", settings)
    loop = asyncio.new_event_loop()
    stopping = asyncio.Event()
    serving = threading.Thread(
        target=loop.run_until_complete, args=(serve(listener, archive, settings, Metrics(), stopping),)
    )
    serving.start()
    try:
        _until(lambda: _status(port, GET) == 200, "the server answers")
        yield port, archive
    finally:
        loop.call_soon_threadsafe(stopping.set)
        serving.join(30)
        loop.close()
        archive.close()


def _until(done: Callable[[], bool], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        time.sleep(0.05)


def _connect(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def _answer(connection: socket.socket) -> int:
    """The status of the next answer on the connection, its body read."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, f"closed before an answer: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return int(head.split(b" ", 2)[1])


def _status(port: int, request: bytes) -> int | None:
    try:
        with _connect(port) as connection:
            connection.sendall(request)
            return _answer(connection)
    except OSError:
        return None


def _closed_by_server(connection: socket.socket, within: float) -> float:
    """Seconds until the server closed the connection (it sent nothing)."""
    began = time.monotonic()
    connection.settimeout(within)
    assert connection.recv(1024) == b""
    return time.monotonic() - began


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never ended
        b'POST /csp-report HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"csp',  # a body cut
    ],
    ids=["nothing", "half the headers", "part of a body"],
)
def test_a_connection_without_a_whole_request_is_closed_at_the_deadline(
    server: tuple[int, Any], sent: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    port, _archive = server
    with _connect(port) as connection:
        connection.sendall(sent)
        assert DEADLINE * 0.8 < _closed_by_server(connection, within=10) < DEADLINE + 3
    time.sleep(0.2)
    # A report cut short is nothing to count, not a traceback in the log (a second review: one
    # per connection, 30,000 lines of them).
    assert "Exception in ASGI application" not in caplog.text


def test_a_request_pipelined_behind_an_answered_one_has_the_deadline_too(server: tuple[int, Any]) -> None:
    """Found by a second review: the deadline was disarmed when the first request arrived whole
    and not armed again while the second, queued behind it, waited for a body that never came:
    255 such connections held every place for as long as they stayed."""
    port, _archive = server
    with _connect(port) as connection:
        connection.sendall(
            GET + b"POST /csp-report HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
        )
        assert _answer(connection) == 200
        connection.settimeout(DEADLINE + 3)
        assert connection.recv(1024) == b""  # closed at the deadline


def test_a_request_whose_headers_never_end_is_refused_past_a_size(
    server: tuple[int, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a second review: a header of 160 MB, sent over 30 s, was joined piece by piece on
    the event loop and held the whole process, the daemon's polls too."""
    monkeypatch.setattr(deadlines, "MOST_HEAD_BYTES", 100_000)
    port, _archive = server
    with _connect(port) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ")
        with contextlib.suppress(OSError):  # the server may close while this still sends
            for _ in range(20):
                connection.sendall(b"a" * 10_000)
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431 "), answer
    assert (
        _status(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: " + b"a" * 50_000 + b"\r\n\r\n")
        == 200
    )


def test_a_crowd_of_silent_connections_no_longer_shuts_everyone_out(server: tuple[int, Any]) -> None:
    port, _archive = server
    crowd = [_connect(port) for _ in range(MOST_CONNECTIONS + 20)]
    rules = b"GET /api/v1/rules HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        _until(lambda: _status(port, rules) == 503, "the crowd fills the server's places", within=5)
        assert _status(port, GET) == 200  # the probe is answered whatever the crowd (a review)
        _until(lambda: _status(port, rules) == 200, "their places freed", within=DEADLINE + 5)
    finally:
        for connection in crowd:
            connection.close()


def test_requests_spaced_out_on_one_connection_are_each_given_the_deadline(server: tuple[int, Any]) -> None:
    port, _archive = server
    with _connect(port) as connection:
        for _ in range(4):  # 2.8 s on one connection, each request 0.7 s after the last answer
            time.sleep(DEADLINE * 0.7)
            connection.sendall(GET)
            assert _answer(connection) == 200


def test_a_request_sent_slowly_within_the_deadline_is_answered(server: tuple[int, Any]) -> None:
    port, _archive = server
    with _connect(port) as connection:
        for piece in (GET[:10], GET[10:25], GET[25:]):
            connection.sendall(piece)
            time.sleep(DEADLINE * 0.25)
        assert _answer(connection) == 200


def test_an_answer_taking_longer_than_the_deadline_is_not_cut(
    server: tuple[int, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, archive = server
    searching = archive.search

    def slow_search(*arguments: Any, **options: Any) -> Any:
        time.sleep(DEADLINE * 1.5)
        return searching(*arguments, **options)

    monkeypatch.setattr(archive, "search", slow_search)
    answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/articles", params={"q": "budget"}, timeout=30)
    assert answer.status_code == 200 and answer.json()["articles"]


def test_the_listener_gives_up_on_answers_left_unread(tmp_path: Path) -> None:
    settings = load_settings(monitor_config(tmp_path))
    with bind(f"127.0.0.1:{free_port()}", settings) as listener:
        unacknowledged = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
    assert unacknowledged == deadlines.UNREAD_WITHIN * 1000


def test_a_url_too_long_for_the_parser_is_refused_as_such(server: tuple[int, Any]) -> None:
    """Found by a review: past 64 KiB, httptools refused the request line with a bare 400
    "Invalid HTTP request received."; it is a 414 saying why, and a line just under passes."""
    port, _archive = server
    long_line = b"GET /healthz?x=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with _connect(port) as connection:
        connection.sendall(long_line)
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 414 ") and answer.endswith(b"(at most 65,000 bytes)"), answer
    assert _status(port, b"GET /healthz?x=" + b"a" * 60_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") != 414


def test_a_client_leaving_with_answers_pipelined_logs_no_error(tmp_path: Path) -> None:
    """Found by a review: a client that pipelined requests, read nothing and went away left
    the answer being written to a closed connection (uvicorn told only the newest request's
    cycle): uvloop's RuntimeError, and its traceback logged, for each such client."""
    archive_with_articles(tmp_path)
    port = free_port()
    process = start_serving(monitor_config(tmp_path), "serve", "--listen", f"127.0.0.1:{port}")
    request = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process)
        clients = []
        for _ in range(10):
            client = socket.socket()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            client.connect(("127.0.0.1", port))
            client.sendall(request * 100)  # megabytes of answers: the server's writes wait
            clients.append(client)
        time.sleep(1.0)
        for client in clients:
            client.close()
        time.sleep(1.0)
        assert _status(port, GET) == 200
    finally:
        output = stop(process)
    assert "Exception in ASGI application" not in output and "Traceback" not in output, output[-3000:]
