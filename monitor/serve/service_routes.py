"""The routes for the programs that watch the server: its OpenAPI document, /metrics
(Prometheus) and /healthz."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.archive import Archive
from monitor.errors import ArchiveError
from monitor.metrics import Metrics
from monitor.serve.shapes import HealthOut, errors


def add_service_routes(
    app: FastAPI, archive: Archive, metrics: Metrics, readers: Sequence[Any], api_readers: Sequence[Any]
) -> None:
    """The routes on the app: the document behind `readers` (the token), the metrics behind
    `api_readers` (the token and the parameter checks), /healthz open to all."""

    @app.get("/openapi.json", dependencies=list(readers), include_in_schema=False)
    def document() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(
        "/metrics",
        dependencies=list(api_readers),
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **errors(401)},
    )
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/healthz",
        summary="Whether the archive answers, the scheduler runs, polls end",
        response_model=HealthOut,
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
        except ArchiveError as error:
            health["archive"] = str(error)
            return JSONResponse(health, status.HTTP_503_SERVICE_UNAVAILABLE)
        return JSONResponse(health)
