"""The routes for the programs that watch the server: its OpenAPI document, /metrics
(Prometheus) and /healthz."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import choose_encoder

from monitor.archive import Archive
from monitor.errors import ArchiveError
from monitor.metrics import Metrics
from monitor.serve.metrics_format import metrics_format
from monitor.serve.shapes import NUL_IN_ADDRESS, HealthOut, errors


def add_service_routes(app: FastAPI, archive: Archive, metrics: Metrics, readers: Sequence[Any]) -> None:
    """The routes on the app: the document and the metrics behind `readers` (the token),
    /healthz open to all."""

    @app.get("/openapi.json", dependencies=list(readers), include_in_schema=False)
    def document() -> JSONResponse:
        return JSONResponse(_with_tokens(app.openapi()))

    @app.get(
        "/metrics",
        dependencies=list(readers),  # parameters ignored, as Prometheus's `params` may send some
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **errors(400, 401, own=NUL_IN_ADDRESS)},
    )
    def prometheus(request: Request) -> Response:
        # The format the scraper asks for (Accept): Prometheus's text, or OpenMetrics.
        encode, media_type = choose_encoder(metrics_format(request.headers.get("accept", "")))
        return Response(encode(metrics.registry), media_type=media_type)

    @app.get(
        "/healthz",
        summary="Whether the archive answers, the scheduler runs, polls end",
        response_model=HealthOut,
        openapi_extra={"security": []},  # open to all, for an orchestrator's probe
        responses={503: {"model": HealthOut, "description": "the archive does not answer"}},
    )
    def healthz() -> JSONResponse:
        health: dict[str, Any] = {"archive": "ok"}
        # In `monitor serve` alone there is no scheduler in this process: said, not failed.
        health["scheduler"] = "running" if metrics.scheduler_running else "not in this process"
        last = metrics.last_poll
        health["last_poll_seconds_ago"] = round(time.time() - last, 1) if last is not None else None
        try:
            archive.answers()
            if not metrics.scheduler_running:  # `monitor serve` alone: the daemons', as stored
                ended = archive.last_poll_end()
                if ended is not None:
                    health["last_poll_seconds_ago"] = round(time.time() - ended.timestamp(), 1)
        except ArchiveError as error:
            health["archive"] = str(error)
            return JSONResponse(health, status.HTTP_503_SERVICE_UNAVAILABLE)
        return JSONResponse(health)


TOKEN_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "a token of serve.tokens, required when the config gives some (always off loopback)",
    },
    "token": {"type": "apiKey", "in": "query", "name": "token", "description": "the same, for feed readers"},
}


def _with_tokens(document: dict[str, Any]) -> dict[str, Any]:
    """The document (FastAPI's, kept and changed in place) saying how a token is shown: as a
    bearer or ?token=, or none on loopback."""
    components = document.setdefault("components", {})
    components["securitySchemes"] = TOKEN_SCHEMES
    document["security"] = [{"bearer": []}, {"token": []}, {}]
    # FastAPI's 422, as error_answers sends it: the `error` every refusal has, beside `detail`.
    invalid = components.get("schemas", {}).get("HTTPValidationError")
    if invalid is not None:
        invalid["properties"]["error"] = {"type": "string", "title": "Error"}
        invalid["required"] = ["error", "detail"]
    return document
