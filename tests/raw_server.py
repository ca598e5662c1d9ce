"""An HTTP server on loopback written at the socket level, so that it can misbehave in ways a
server library will not (trickles, endless bodies, lies, silence). Shared by the hostile-input
tests (tests/hostile.py) and the memory benchmark (bench/hostile.py)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
# How a server answers one request: the connection, the request's path and its Host header.
Answer = Callable[[socket.socket, str, str], None]


def send(connection: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the client may hang up first: that is the point
        connection.sendall(data)


class RawServer:
    """Accepts connections on `host:port` (port 0: any free one), reads each one's request and
    hands it to `answer` on a thread of its own; the connection is closed when `answer` returns."""

    def __init__(self, answer: Answer, host: str = "127.0.0.1", port: int = 0, timeout: float = 5.0) -> None:
        self.answer = answer
        self.timeout = timeout
        self.stop = threading.Event()
        self.listener = socket.create_server((host, port))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.stop.set()
        self.listener.close()

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
            connection.settimeout(self.timeout)
            try:
                request = connection.recv(65536).decode("latin-1")
            except OSError:
                return
            path = request.split(" ", 2)[1] if request.count(" ") >= 2 else "/"
            headers = [line.split(":", 1) for line in request.split("\r\n")[1:] if ":" in line]
            host = next((value.strip() for name, value in headers if name.lower() == "host"), "")
            self.answer(connection, path, host)
