"""What every answer carries, and the browser's side of the token: a strict Content-Security-
Policy (no script at all, styles from this server only, forms posting here only), no sniffing,
no referrer to other sites (an article's link must not tell its site where the analyst read it); a valid
?token= in a page's address is kept in a cookie, so the pages' links need not carry it; the
browser's reports of CSP violations are counted in /metrics."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote_plus, unquote_to_bytes

from fastapi import FastAPI, Request, Response
from starlette.datastructures import MutableHeaders, QueryParams
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.config.settings import is_loopback
from monitor.ingest.parse.charsets import is_utf8
from monitor.metrics import Metrics
from monitor.serve.auth import COOKIE, cookie_value, is_token
from monitor.serve.rendering import is_page

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; report-uri /csp-report"
)
MOST_REPORT_BYTES = 16 * 1024
REPORTS_LOGGED, REPORT_WINDOW = 10, 60.0  # CSP reports logged a minute at most (ReportLog)
_HOST = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[^:\[\]]+))(?::(?P<port>[0-9]{1,5}))?")


_LOOPBACK_ONLY = (
    "without serve.tokens this server answers only to loopback names (localhost, 127.0.0.1): to "
    "reach it by another name (a proxy's), give serve.tokens"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Not no-referrer: with it a browser sends `Origin: null` on the page's own form posts.
    (b"referrer-policy", b"same-origin"),
]


class Protections:
    """The headers above on every answer, with Server-Timing (the server's own time, for a
    browser's developer tools and the bench), and the token cookie. Plain ASGI: Starlette's
    BaseHTTPMiddleware runs each request in a task of its own with a streamed body, which cost
    more than a rare phrase's search."""

    def __init__(self, app: ASGIApp, tokens: list[str]) -> None:
        self.app, self.tokens = app, tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        cookie = self._cookie(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS:
                    headers.raw.append((name, value))
                headers.append("server-timing", f"app;dur={(time.perf_counter() - started) * 1000:.2f}")
                if cookie and message["status"] < 400:
                    headers.append("set-cookie", cookie)
                if self.tokens and (is_page(scope["path"]) or scope["path"].startswith("/feeds/")):
                    headers.append("cache-control", "private")  # its links may hold the token
            await send(message)

        if not self.tokens and not _loopback_host(scope):
            # Open on loopback only: a page of another site whose name resolves to 127.0.0.1
            # (DNS rebinding) must not read the archive or post a retry.
            await _refusal(scope, _LOOPBACK_ONLY, 421)(scope, receive, send_with_headers)
            return
        unreadable = _unreadable(scope)
        if unreadable:
            await _refusal(scope, unreadable, 400)(scope, receive, send_with_headers)
            return
        if cookie and _browser_opens_page(scope):
            # The token kept, the address without it: left in the address bar it went into the
            # browser's history and bookmarks, and to whoever the address was shared with.
            await RedirectResponse(_without_token(scope), 303)(scope, receive, send_with_headers)
            return
        if scope["method"] == "HEAD":
            # Answered as a GET (FastAPI's routes take GET alone); the server, which keeps the
            # request's own method, sends the headers without the body.
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send_with_headers)

    def _cookie(self, scope: Scope) -> str | None:
        """The cookie keeping a valid ?token= of a page's address."""
        query = scope.get("query_string", b"")
        if not self.tokens or (b"token=" not in query and b"%" not in query):  # tok%65n= too
            return None
        given = QueryParams(scope["query_string"].decode("latin-1")).get("token", "")
        if not is_token(given, self.tokens):
            return None
        # Secure when the browser came over TLS: directly, or through a proxy whose
        # X-Forwarded-Proto uvicorn trusts (FORWARDED_ALLOW_IPS); never sent back over plain HTTP.
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        # Lax, not Strict: a browser following a link from a mail or a chat to ?token= is sent
        # back here by _browser_opens_page's redirect, a navigation another site began, on
        # which it sends no Strict cookie (a 401). Lax keeps it from other sites' posts; the
        # only write, the retry form, has its CSRF token besides.
        return f"{COOKIE}={cookie_value(given)}; HttpOnly; Path=/; SameSite=Lax{secure}"


def _refusal(scope: Scope, reason: str, status: int) -> Response:
    """A refusal before the app: JSON with its `error` on the API, as the app's are; text elsewhere."""
    if scope["path"].startswith("/api/"):
        return JSONResponse({"error": reason}, status)
    return PlainTextResponse(reason, status)


def _browser_opens_page(scope: Scope) -> bool:
    """Whether a browser is opening a page or a feed (its Fetch Metadata says a navigation to a
    document: a click on a page's Subscribe link), at an address whose path cannot be read as
    another host's (//host/, /\\host/). Not a program's GET (curl, a feed reader): it keeps no
    cookie and would be sent, without its token, to a 401."""
    wanted = scope["path"]
    if scope["method"] not in ("GET", "HEAD") or not (is_page(wanted) or wanted.startswith("/feeds/")):
        return False
    headers = dict(scope["headers"])
    navigating = headers.get(b"sec-fetch-mode") == b"navigate" and headers.get(b"sec-fetch-dest") in (
        None,
        b"document",
    )
    path = _path_as_sent(scope)
    return navigating and path.startswith("/") and path[1:2] not in ("/", "\\")


def _path_as_sent(scope: Scope) -> str:
    """The request's path undecoded (%2F stays %2F), as the client wrote it."""
    sent: bytes = scope.get("raw_path") or scope["path"].encode()
    return sent.decode("latin-1")


def _without_token(scope: Scope) -> str:
    """The request's path and query as sent (a rule's /rules/..%2Fetc must not become
    /rules/../etc), the query without its token."""
    path = _path_as_sent(scope)
    query = scope["query_string"].decode("latin-1")
    kept = [part for part in query.split("&") if part and unquote_plus(part.split("=", 1)[0]) != "token"]
    return f"{path}?{'&'.join(kept)}" if kept else path


def _unreadable(scope: Scope) -> str | None:
    """What makes the request's address unreadable as text, said; None when it is readable. A
    NUL character: no name, query or id the archive holds has one, and PostgreSQL refuses it
    in text outright (an error of the archive's, a 503, rather than what was asked). Bytes that
    are not UTF-8 (%FF): read as U+FFFD, `q=%FF` was answered "nothing to match in '\ufffd'"."""
    query: bytes = scope.get("query_string", b"")
    for where, sent in (("path", _path_as_sent(scope).encode("latin-1")), ("query", query)):
        if b"%00" in sent or b"\x00" in sent:
            return f"the request's {where} holds a NUL character (%00)"
        if (b"%" in sent or not sent.isascii()) and not is_utf8(unquote_to_bytes(sent)):
            return f"the request's {where} is not UTF-8 text (a byte such as %FF begins no character)"
    return None


def _loopback_host(scope: Scope) -> bool:
    """Whether the Host header names loopback: localhost or a loopback address, exactly (a name
    such as 127.0.0.1.attacker.example may resolve to 127.0.0.1 too), with a port or none."""
    hosts = [value for name, value in scope["headers"] if name == b"host"]
    return len(hosts) == 1 and _names_loopback(hosts[0])  # two: refused


@lru_cache(maxsize=64)  # clients send the same few: parsing each cost 30 us a request
def _names_loopback(host: bytes) -> bool:
    given = _HOST.fullmatch(host.decode("latin-1"))
    if given is None or int(given["port"] or 0) > 65535:
        return False
    name = (given["v6"] or given["name"]).lower()
    # localhost's fully qualified form, which a browser sends as typed (RFC 6761: loopback too)
    return is_loopback("localhost" if name == "localhost." else name)


class ReportLog:
    """The CSP reports' log lines: the first REPORTS_LOGGED of each minute; the next report
    after that minute first says in a line how many more came in it. The route takes reports
    from anyone (a browser sends them without the token), and a client posting thousands a
    second must not fill the disk with the log; /metrics counts every one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.window_began = -REPORT_WINDOW
        self.logged = self.unlogged = 0

    def log(self, report: str) -> None:
        now = self.clock()
        if now - self.window_began >= REPORT_WINDOW:
            if self.unlogged:
                log.warning(
                    "%d more CSP reports came that minute, not logged (/metrics counts every one)",
                    self.unlogged,
                )
            self.window_began, self.logged, self.unlogged = now, 0, 0
        if self.logged < REPORTS_LOGGED:
            self.logged += 1
            log.warning("the browser refused something a page held (CSP): %s", _one_line(report))
        else:
            self.unlogged += 1


# Line breaks and other controls in a report, which anyone may post: written as they came, a
# report could add a line to the log that reads as the monitor's own.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(report: str) -> str:
    """The report on one line, each control character as Python writes it (a line break as \\n)."""
    return _CONTROLS.sub(lambda control: ascii(control.group())[1:-1], report)


def add_csp_reports(app: FastAPI, metrics: Metrics) -> None:
    reports_logged = ReportLog()

    @app.post("/csp-report", include_in_schema=False, status_code=204)
    async def csp_report(request: Request) -> Response:
        report = b""
        try:
            async for chunk in request.stream():  # read no further than a report can be
                report += chunk
                if len(report) > MOST_REPORT_BYTES:
                    return Response(status_code=413)
        except ClientDisconnect:  # gone before its report ended (or cut at the deadline): nothing to count
            return Response(status_code=400)
        metrics.csp_reports.inc()
        reports_logged.log(report[:500].decode("utf-8", "replace"))
        return Response(status_code=204)
