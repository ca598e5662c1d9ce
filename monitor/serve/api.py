"""The JSON API under /api/v1, and /healthz. The light handlers are plain functions: FastAPI
runs them in its thread pool, where the archive's blocking reads belong. The search, the route
clients call most, makes one trip to the read threads for its whole answer, JSON included
(below); so do the routes that count, once they have a turn (Searching.count)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor import __version__
from monitor.archive import Archive, SearchFilters
from monitor.config.settings import Settings
from monitor.errors import ArchiveError, QueryError, SearchTooSlow, UsageError
from monitor.mentions import MOST_POINTS_IN_ALL, mention_series, mention_window
from monitor.metrics import Metrics
from monitor.payloads import article_json
from monitor.queries import (
    SearchAsked,
    alert_history,
    rules_overview,
    search_filters,
    searched_query,
    source_health,
)
from monitor.serve.auth import token_check
from monitor.serve.cursors import read_cursor, write_cursor
from monitor.serve.feed_routes import add_feeds
from monitor.serve.pages import add_pages, is_page, problem_page
from monitor.serve.parameters import one_value_each, parameters_checked
from monitor.serve.searching import COUNT_TURNS, Searching, prefixes_asked, retry_after
from monitor.serve.shapes import (
    AlertOut,
    ArticleOut,
    ArticlePage,
    HealthOut,
    MentionsOut,
    RuleOut,
    SearchParams,
    SourceOut,
    errors,
    query_parameters,
)
from monitor.serve.web import add_csp_reports

VALIDATION_ERROR = {  # FastAPI's own answer to a parameter out of its schema
    "description": "Validation Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}


def build_api(archive: Archive, settings: Settings, metrics: Metrics, reads: Executor) -> FastAPI:
    """The app serving the archive to clients of the settings' tokens, and the process's
    metrics; searches run on the `reads` threads."""
    app = FastAPI(
        title="monitor",
        version=__version__,
        description="The archive of a media monitor: articles matching watch rules, sources, alerts.",
        # The interactive pages would load their scripts from a CDN: the document is enough.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind the token like the rest
        # FastAPI's own OpenTelemetry: none is configured (metrics are Prometheus', /metrics),
        # and asking each request whether it is cost 25 us of a rare phrase's 0.3 ms.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    readers = [Depends(token_check(settings.serve.tokens))]
    api_readers = [*readers, Depends(parameters_checked)]
    on_postgresql = not settings.database_url().startswith("sqlite")
    time_limit = settings.serve.search_timeout.total_seconds()
    searching = Searching(reads, time_limit, work_elsewhere=on_postgresql)
    counting = Searching(reads, time_limit, COUNT_TURNS, work_elsewhere=on_postgresql, counting=True)

    async def counted(request: Request, work: Callable[..., Any], *arguments: Any) -> Response:
        """work(*arguments)'s answer as JSON, counted on a read thread once it has a turn
        (Searching.count) and encoded there by orjson, as the search's. Not checked against
        its model here, as FastAPI would: pydantic holds the interpreter while it checks (a
        series of 2.4 million points: 10 s, the event loop stopped); tests check the shapes."""
        body = await counting.count(_encoded, work, *arguments, gone=request.is_disconnected)
        return Response(body, media_type="application/json")

    @app.exception_handler(QueryError)
    def _query_error(_request: Request, error: QueryError) -> JSONResponse:
        body = {
            "error": str(error),
            "query": error.query,
            "position": error.position,
            "pointer": error.pointer(),
        }
        return JSONResponse(body, status.HTTP_400_BAD_REQUEST)

    @app.exception_handler(UsageError)
    def _usage_error(request: Request, error: UsageError) -> Response:
        if is_page(request.url.path):  # a person's browser: a page saying so, not JSON
            return problem_page(status.HTTP_400_BAD_REQUEST, str(error))
        return JSONResponse({"error": str(error)}, status.HTTP_400_BAD_REQUEST)

    @app.exception_handler(StarletteHTTPException)
    def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        if is_page(request.url.path):  # a person's browser: a page saying so, not JSON
            return problem_page(error.status_code, str(error.detail), error.headers)
        return JSONResponse({"error": str(error.detail)}, error.status_code, headers=error.headers)

    @app.exception_handler(SearchTooSlow)
    def _too_slow(_request: Request, error: SearchTooSlow) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status.HTTP_503_SERVICE_UNAVAILABLE, retry_after(error))

    @app.exception_handler(ArchiveError)
    def _archive_error(_request: Request, error: ArchiveError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.get(
        "/api/v1/articles",
        dependencies=readers,
        summary="Search the archive",
        response_model=ArticlePage,
        responses={**errors(400, 401, 503, waits="search"), 422: VALIDATION_ERROR},
        openapi_extra={"parameters": query_parameters(SearchParams)},
    )
    async def articles(request: Request) -> Response:
        # The route clients call most, kept lean. Its parameters are checked by one model
        # (FastAPI's checks of ten declared ones cost 0.2-0.3 ms, as much as a rare phrase's
        # search), and it makes one trip to a read thread for the whole answer, its JSON
        # encoded there (as a plain function FastAPI would make two: the search, then checking
        # the answer against ArticlePage). The answer's shape is tested against ArticlePage.
        # Its parameters' names are checked here, not as a dependency (50 us a request).
        await parameters_checked(request)
        given = request.query_params
        try:
            params = SearchParams.model_validate(
                {**given, "source": given.getlist("source"), "rule": given.getlist("rule")}
            )
        except ValidationError as error:
            raise RequestValidationError(
                [
                    {**problem, "loc": ("query", *problem["loc"])}
                    for problem in error.errors(include_url=False)
                ]
            ) from None
        asked = SearchAsked(
            params.q,
            params.since,
            params.fetched_since,
            params.until,
            tuple(params.source),
            tuple(params.rule),
            params.matched,
            params.lang,
            params.limit,
        )
        checked = partial(page_filters, archive, settings, asked, params.cursor)
        prefixes = prefixes_asked(params.q)
        body = await searching.run(
            prefixes,
            articles_page,
            archive,
            settings,
            asked,
            params.cursor,
            check=checked,
            known_as=(asked, params.cursor),  # as understood: other parameters make no other search
            gone=request.is_disconnected,
        )
        return Response(body, media_type="application/json")

    @app.get(
        "/api/v1/articles/{article_id}",
        dependencies=api_readers,
        summary="One article",
        response_model=ArticleOut,
        responses=errors(401, 404, 503),
    )
    def article(article_id: str) -> dict[str, Any]:
        found = archive.article(article_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no article {article_id!r} in the archive")
        return article_json(found)

    @app.get(
        "/api/v1/sources",
        dependencies=api_readers,
        summary="Each source's health",
        response_model=list[SourceOut],
        responses=errors(401, 503, waits="count"),
    )
    async def sources(request: Request) -> Response:
        return await counted(request, source_health, archive, settings, True)

    @app.get(
        "/api/v1/alerts",
        dependencies=api_readers,
        summary="The alert history, newest first",
        response_model=list[AlertOut],
        responses=errors(401, 503),
    )
    def alerts(limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[dict[str, Any]]:
        return alert_history(archive, limit)

    @app.get(
        "/api/v1/rules",
        dependencies=api_readers,
        summary="Each watch rule with its match counts",
        response_model=list[RuleOut],
        responses=errors(401, 503, waits="count"),
    )
    async def rules(request: Request) -> Response:
        return await counted(request, rules_overview, archive, settings)

    @app.get(
        "/api/v1/stats/mentions",
        dependencies=api_readers,
        summary="Matches per day, week or month",
        response_model=MentionsOut,
        responses=errors(
            400,
            401,
            503,
            waits="count",
            own={
                400: "an interval, date, grouping or rule is not known, or the answer would be "
                f"more than {MOST_POINTS_IN_ALL:,} points (lines times intervals)"
            },
        ),
    )
    async def mentions(
        request: Request,
        rule: Annotated[list[str], Query(description="watch rules (default: every one)")] = [],  # noqa: B006
        interval: Annotated[str, Query(description="day, week or month")] = "day",
        since: Annotated[str | None, Query(description="default: 90 days back; 30d or a date")] = None,
        until: Annotated[str | None, Query(description="default: now; a date takes in its whole day")] = None,
        by: Annotated[str | None, Query(description="source or language: a line for each")] = None,
    ) -> Response:
        asked = (rule, interval, since, until, by)
        mention_window(settings, *asked)  # what is wrong is said at once: it reads nothing
        return await counted(request, mention_series, archive, settings, *asked)

    @app.get("/openapi.json", dependencies=readers, include_in_schema=False)
    def document() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(
        "/metrics",
        dependencies=api_readers,
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

    add_pages(app, archive, settings, [*readers, Depends(one_value_each)], searching, counting)
    add_feeds(app, archive, settings, readers, searching)
    app.state.searching = [searching, counting]  # stopped with the server (server.py)
    add_csp_reports(app, metrics)
    app.mount("/static", StaticFiles(packages=[("monitor.serve", "static")]), name="static")
    return app


def articles_page(
    archive: Archive,
    settings: Settings,
    asked: SearchAsked,
    cursor: str | None,
    *,
    time_limit: float | None,
    cpu_limit: float | None = None,
) -> bytes:
    """A page of the search's answer, newest first, as ArticlePage's JSON; QueryError or
    UsageError for what cannot be searched, SearchTooSlow past its limits (Archive.search)."""
    filters = page_filters(archive, settings, asked, cursor)
    query = searched_query(archive, settings, asked.query)
    found = archive.search(query, filters, time_limit, cpu_limit)
    last = found[-1].article if len(found) == asked.limit else None
    page = {
        "articles": [article_json(item) for item in found],
        "next_cursor": write_cursor(last.published, last.id) if last else None,
    }
    return orjson.dumps(page)


def _encoded(work: Callable[..., Any], *arguments: Any) -> bytes:
    return orjson.dumps(work(*arguments))


def page_filters(
    archive: Archive, settings: Settings, asked: SearchAsked, cursor: str | None
) -> SearchFilters:
    """The filters of a page of the search, from its cursor on; UsageError for what is wrong."""
    return replace(search_filters(archive, settings, asked), after=read_cursor(cursor))
