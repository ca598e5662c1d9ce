"""What every answer carries, and the browser's side of the token: a strict Content-Security-
Policy (no script at all, styles from this server only, forms posting here only), no sniffing,
no referrer to other sites (an article's link must not tell its site where the analyst read it); a valid
?token= in a page's address is kept in a cookie, so the pages' links need not carry it; the
browser's reports of CSP violations are counted in /metrics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from monitor.metrics import Metrics
from monitor.serve.auth import COOKIE, is_token

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; report-uri /csp-report"
)
MOST_REPORT_BYTES = 16 * 1024


def add_protections(app: FastAPI, tokens: list[str], metrics: Metrics) -> None:
    @app.middleware("http")
    async def protect(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Not no-referrer: with it a browser sends `Origin: null` on the page's own form posts.
        response.headers["Referrer-Policy"] = "same-origin"
        given = request.query_params.get("token")
        if given and tokens and is_token(given, tokens) and response.status_code < 400:
            response.set_cookie(COOKIE, given, httponly=True, samesite="strict", path="/")
        return response

    @app.post("/csp-report", include_in_schema=False, status_code=204)
    async def csp_report(request: Request) -> Response:
        report = (await request.body())[:MOST_REPORT_BYTES]
        metrics.csp_reports.inc()
        log.warning(
            "the browser refused something a page held (CSP): %s", report[:500].decode("utf-8", "replace")
        )
        return Response(status_code=204)
