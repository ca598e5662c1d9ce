"""Real loopback servers for tests: a site serving feeds and pages, and a webhook receiver."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Handler = Callable[[BaseHTTPRequestHandler], Route]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client gone before the answer was written (a fetch that timed out, a daemon that
        # closed its connection) is what many tests make happen. Printed, its traceback landed
        # in the stderr a later test captured from its own command.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Site:
    """Serves `routes` (path -> Route or a function of the request) on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route | Handler] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.started: list[float] = []
        self.started_paths: list[tuple[str, float]] = []
        self.stopping = threading.Event()
        self.active = 0
        self.max_active = 0
        self.counting = threading.Lock()
        site = self

        class RequestHandler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                with site.counting:
                    site.active += 1
                    site.max_active = max(site.max_active, site.active)
                    site.started.append(time.monotonic())
                    site.started_paths.append((self.path, time.monotonic()))
                self.counted = True
                try:
                    self.answer()
                finally:
                    self.done()

            def done(self) -> None:
                """No longer active: from just before the answer's last bytes go, as its client,
                once it has them, may start its next request before this thread runs on (a
                request counted active after its client had moved on: 3 where 2 held)."""
                with site.counting:
                    if self.counted:
                        site.active -= 1
                        self.counted = False

            def answer(self) -> None:
                site.requests.append((self.path, dict(self.headers.items())))
                route = site.routes.get(self.path)
                if route is None:
                    route = Route(b"not found", 404)
                elif callable(route):
                    route = route(self)
                if route.delay:
                    site.stopping.wait(route.delay)
                self.send_response(route.status)
                headers = {"Content-Type": "application/xml", **route.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.done()
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(route.body)  # the client may have given up (deadline tests)

        self.host = host
        self.server = _Server((host, 0), RequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.server.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for requested, _ in self.requests if requested == path)

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    payload: Any
    raw: bytes = b""


class WebhookReceiver:
    """Records JSON POSTs; answers with `status` (change it to simulate an outage) and `reply`
    (a JSON body, for receivers that stand in for an API)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.status = 200
        self.reply = b""
        self.delay = 0.0  # seconds to take before answering (widens the send window)
        self.arrivals = 0  # requests received, counted before the delay
        self.headers: dict[str, str] = {}  # sent with every answer (Retry-After)
        receiver = self

        class RequestHandler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.arrivals += 1
                status = receiver.status
                time.sleep(receiver.delay)
                if status < 300:
                    receiver.deliveries.append(
                        Delivery(self.path, dict(self.headers.items()), json.loads(body), body)
                    )
                reply = receiver.reply
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if reply:  # the client may be gone already once it has the headers
                    self.wfile.write(reply)

        self.server = _Server(("127.0.0.1", 0), RequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.deliveries

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
