"""A hostile HTTP server on loopback: one path per fault, written at the socket level so it can
misbehave in ways a well-behaved server library will not (trickles, endless bodies, lies)."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable

Behaviour = Callable[[socket.socket], None]
HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"


def _send(connection: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the client may hang up first: that is the point
        connection.sendall(data)


def trickle(stop: threading.Event) -> Behaviour:
    def behave(connection: socket.socket) -> None:
        _send(connection, HEADERS + b"Content-Length: 100000\r\n\r\n")
        while not stop.wait(0.5):
            _send(connection, b"<")

    return behave


def endless(stop: threading.Event) -> Behaviour:
    def behave(connection: socket.socket) -> None:
        _send(connection, HEADERS + b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"<item>" + b"x" * 65536 + b"</item>"
        while not stop.is_set():
            try:
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                return

    return behave


def lying_length(connection: socket.socket) -> None:
    _send(connection, HEADERS + b"Content-Length: 50000\r\n\r\n<rss><channel><item>")


def header_flood(connection: socket.socket) -> None:
    flood = b"".join(b"X-Flood-%d: %s\r\n" % (i, b"y" * 100) for i in range(20000))
    _send(connection, HEADERS + flood + b"Content-Length: 0\r\n\r\n")


def gzip_bomb(size: int) -> Behaviour:
    body = gzip.compress(b"\0" * size, compresslevel=9)

    def behave(connection: socket.socket) -> None:
        head = HEADERS + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
        _send(connection, head + body)

    return behave


def silent(stop: threading.Event) -> Behaviour:
    def behave(connection: socket.socket) -> None:
        stop.wait()  # reads the request, never answers; hangs up when the server closes

    return behave


def garbage_status(connection: socket.socket) -> None:
    _send(connection, b"HTCPCP/9 999 I'm a teapot\r\n\r\n")


class HostileServer:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.routes: dict[str, Behaviour] = {
            "/trickle": trickle(self.stop),
            "/silent": silent(self.stop),
            "/endless": endless(self.stop),
            "/lying-length": lying_length,
            "/header-flood": header_flood,
            "/gzip-bomb": gzip_bomb(200 * 1024 * 1024),
            "/garbage-status": garbage_status,
        }
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"http://{host}:{port}{path}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                request = connection.recv(65536).decode("latin-1")
            except OSError:
                return
            path = request.split(" ", 2)[1] if request.count(" ") >= 2 else "/"
            behave = self.routes.get(path)
            if behave is None:
                _send(connection, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            else:
                behave(connection)
            time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
