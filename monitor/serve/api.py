"""The app of `monitor serve`: the JSON API under /api/v1 (its search here, the other routes
in listings.py), the pages, the feeds of matches, /metrics and /healthz. The search, the route
clients call most, makes one trip to the read threads for its whole answer, JSON included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import replace
from functools import partial

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from monitor import __version__
from monitor.archive import Archive, SearchFilters
from monitor.config.settings import Settings
from monitor.metrics import Metrics
from monitor.payloads import article_json
from monitor.queries import SearchAsked, search_filters, searched_query
from monitor.serve.auth import token_check
from monitor.serve.cursors import read_cursor, write_cursor
from monitor.serve.error_answers import add_error_answers
from monitor.serve.feed_routes import add_feeds
from monitor.serve.listings import add_listings
from monitor.serve.pages import add_pages
from monitor.serve.parameters import EmptyParametersDropped, one_value_each, parameters_checked
from monitor.serve.prefixes import prefixes_asked
from monitor.serve.searching import COUNT_TURNS, Searching
from monitor.serve.service_routes import add_service_routes
from monitor.serve.shapes import ArticlePage, SearchParams, errors, query_parameters
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
        # A trailing slash answered by a redirect to the route, before any token check, would
        # tell anyone which routes there are: /sources/ is not found, as /nothing is.
        redirect_slashes=False,
        # FastAPI's own OpenTelemetry: none is configured (metrics are Prometheus', /metrics),
        # and asking each request whether it is cost 25 us of a rare phrase's 0.3 ms.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    readers = [Depends(token_check(settings.serve.tokens))]
    api_readers = [*readers, Depends(parameters_checked)]
    time_limit = settings.serve.search_timeout.total_seconds()
    searching = Searching(reads, time_limit)
    counting = Searching(reads, time_limit, COUNT_TURNS, counting=True)

    add_error_answers(app, token_check(settings.serve.tokens))
    _add_search(app, archive, settings, token_check(settings.serve.tokens), searching)
    add_listings(app, archive, settings, api_readers, counting)
    add_service_routes(app, archive, metrics, readers)
    add_pages(app, archive, settings, [*readers, Depends(one_value_each)], searching, counting)
    add_feeds(app, archive, settings, readers, searching)
    app.state.searching = [searching, counting]  # stopped with the server (server.py)
    add_csp_reports(app, metrics)
    app.add_middleware(EmptyParametersDropped)
    app.mount("/static", StaticFiles(packages=[("monitor.serve", "static")]), name="static")
    return app


def _add_search(
    app: FastAPI,
    archive: Archive,
    settings: Settings,
    token_checked: Callable[[Request], Awaitable[None]],
    searching: Searching,
) -> None:
    """GET /api/v1/articles, behind `token_checked`, its searches run by `searching`."""

    @app.get(
        "/api/v1/articles",
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
        # Its token and its parameters' names are checked here, not as dependencies (FastAPI's
        # solving one cost 20-50 us a request).
        await token_checked(request)
        await parameters_checked(request)
        given = request.query_params  # none empty (EmptyParametersDropped)
        several = {name: given.getlist(name) for name in ("source", "rule")}
        try:
            params = SearchParams.model_validate({**given, **several})
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


def articles_page(
    archive: Archive,
    settings: Settings,
    asked: SearchAsked,
    cursor: str | None,
    *,
    time_limit: float | None,
    work_limit: float | None = None,
) -> bytes:
    """A page of the search's answer, newest first, as ArticlePage's JSON; QueryError or
    UsageError for what cannot be searched, SearchTooSlow past its limits (Archive.search)."""
    # One more than the page holds: whether a page follows (a full last page has no cursor).
    filters = replace(page_filters(archive, settings, asked, cursor), limit=asked.limit + 1)
    query = searched_query(archive, settings, asked.query)
    found = archive.search(query, filters, time_limit, work_limit)
    last = found[asked.limit - 1].article if len(found) > asked.limit else None
    page = {
        "articles": [article_json(item) for item in found[: asked.limit]],
        "next_cursor": write_cursor(last.published, last.id) if last else None,
    }
    return orjson.dumps(page)


def page_filters(
    archive: Archive, settings: Settings, asked: SearchAsked, cursor: str | None
) -> SearchFilters:
    """The filters of a page of the search, from its cursor on; UsageError for what is wrong."""
    return replace(search_filters(archive, settings, asked), after=read_cursor(cursor))
