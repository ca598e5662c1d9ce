"""A hostile HTTP server on loopback: one path per fault, written at the socket level so it can
misbehave in ways a well-behaved server library will not (trickles, endless bodies, lies)."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable

from tests.raw_server import NOT_FOUND, RawServer, send

Behaviour = Callable[[socket.socket], None]
HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"


def trickle(stop: threading.Event) -> Behaviour:
    def behave(connection: socket.socket) -> None:
        send(connection, HEADERS + b"Content-Length: 100000\r\n\r\n")
        while not stop.wait(0.5):
            send(connection, b"<")

    return behave


def endless(stop: threading.Event) -> Behaviour:
    def behave(connection: socket.socket) -> None:
        send(connection, HEADERS + b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"<item>" + b"x" * 65536 + b"</item>"
        while not stop.is_set():
            try:
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                return

    return behave


def lying_length(connection: socket.socket) -> None:
    send(connection, HEADERS + b"Content-Length: 50000\r\n\r\n<rss><channel><item>")


def header_flood(connection: socket.socket) -> None:
    flood = b"".join(b"X-Flood-%d: %s\r\n" % (i, b"y" * 100) for i in range(20000))
    send(connection, HEADERS + flood + b"Content-Length: 0\r\n\r\n")


def gzip_bomb(size: int) -> Behaviour:
    body = gzip.compress(b"\0" * size, compresslevel=9)

    def behave(connection: socket.socket) -> None:
        head = HEADERS + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
        send(connection, head + body)

    return behave


def silent(stop: threading.Event) -> Behaviour:
    def behave(connection: socket.socket) -> None:
        stop.wait()  # reads the request, never answers; hangs up when the server closes

    return behave


def garbage_status(connection: socket.socket) -> None:
    send(connection, b"HTCPCP/9 999 I'm a teapot\r\n\r\n")


class HostileServer:
    """One path per fault; anything else a 404."""

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
        self.server = RawServer(self._answer)

    def url(self, path: str) -> str:
        return self.server.url(path)

    def close(self) -> None:
        self.stop.set()
        self.server.close()

    def _answer(self, connection: socket.socket, path: str, _host: str) -> None:
        behave = self.routes.get(path)
        if behave is None:
            send(connection, NOT_FOUND)
        else:
            behave(connection)
        time.sleep(0.05)
