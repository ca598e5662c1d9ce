"""The API's routes other than the search: an article, the sources' health, the alert history,
the rules with their counts, the mentions over time. The light ones are plain functions:
FastAPI runs them in its thread pool, where the archive's blocking reads belong; the ones that
count run on the read threads once they have a turn (Searching.count)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import FastAPI, HTTPException, Query, Request, status
from fastapi.responses import Response

from monitor.archive import Archive
from monitor.config.settings import Settings
from monitor.mentions import MOST_POINTS_IN_ALL, mention_series, mention_window
from monitor.models import AlertState
from monitor.payloads import article_json
from monitor.queries import alert_history, rules_overview, source_health
from monitor.serve.cursors import read_cursor, write_cursor
from monitor.serve.searching import Searching
from monitor.serve.shapes import (
    PARAMETERS_WRONG,
    AlertOut,
    ArticleOut,
    MentionsOut,
    RuleOut,
    SourceOut,
    errors,
)

# Said in the document; what else is given is refused by mention_window in its own words.
INTERVALS: dict[str, Any] = {"enum": ["day", "week", "month"]}
OLDER_ALERTS: dict[str, Any] = {
    "headers": {
        "Link": {
            "description": 'the next page, when older alerts follow: `<address>; rel="next"`',
            "schema": {"type": "string"},
        }
    }
}
ALERTS_CURSOR = (
    "where the page begins: given in the previous page's Link header (rel=next), which a page "
    "has when older alerts follow"
)
GROUPINGS: dict[str, Any] = {"enum": ["source", "language"]}
T = TypeVar("T")


def add_listings(
    app: FastAPI, archive: Archive, settings: Settings, readers: Sequence[Any], counting: Searching
) -> None:
    """The routes on the app, behind `readers` (the token and parameter checks)."""
    guarded = list(readers)

    async def counted(request: Request, work: Callable[..., Any], *arguments: Any) -> Response:
        """work(*arguments)'s answer as JSON, counted on a read thread once it has a turn
        (Searching.count) and encoded there by orjson, as the search's. Not checked against
        its model here, as FastAPI would: pydantic holds the interpreter while it checks (a
        series of 2.4 million points: 10 s, the event loop stopped); tests check the shapes."""
        body = await counting.count(_encoded, work, *arguments, gone=request.is_disconnected)
        return Response(body, media_type="application/json")

    @app.get(
        "/api/v1/articles/{article_id}",
        dependencies=guarded,
        summary="One article",
        response_model=ArticleOut,
        responses=errors(400, 401, 404, 503, own=PARAMETERS_WRONG),
    )
    def article(article_id: str) -> dict[str, Any]:
        found = archive.article(article_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no article {article_id!r} in the archive")
        return article_json(found)

    @app.get(
        "/api/v1/sources",
        dependencies=guarded,
        summary="Each source's health",
        response_model=list[SourceOut],
        responses=errors(400, 401, 503, waits="count", own=PARAMETERS_WRONG),
    )
    async def sources(request: Request) -> Response:
        return await counted(request, source_health, archive, settings, True)

    @app.get(
        "/api/v1/alerts",
        dependencies=guarded,
        summary="The alert history, newest first",
        response_model=list[AlertOut],
        responses={**errors(400, 401, 503, waits="count", own=PARAMETERS_WRONG), 200: OLDER_ALERTS},
    )
    async def alerts(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=5000)] = 200,
        state: Annotated[AlertState | None, Query(description="only the alerts in this state")] = None,
        cursor: Annotated[str | None, Query(description=ALERTS_CURSOR)] = None,
    ) -> Response:
        before = read_cursor(cursor, of="alerts")
        # Counted: 5,000 rows and their articles, in a crowd, held every thread FastAPI has.
        body, following = await counting.count(
            _encoded_page, alert_history, archive, limit, state, before, gone=request.is_disconnected
        )
        if following is None:
            return Response(body, media_type="application/json")
        moment, alert_id = following
        older = request.url.include_query_params(cursor=write_cursor(moment, alert_id, of="alerts"))
        return Response(body, media_type="application/json", headers={"link": f'<{older}>; rel="next"'})

    @app.get(
        "/api/v1/rules",
        dependencies=guarded,
        summary="Each watch rule with its match counts",
        response_model=list[RuleOut],
        responses=errors(400, 401, 503, waits="count", own=PARAMETERS_WRONG),
    )
    async def rules(request: Request) -> Response:
        return await counted(request, rules_overview, archive, settings)

    too_many = "an interval, date, grouping or rule is not known, or the answer would be more than "
    too_many += f"{MOST_POINTS_IN_ALL:,} points (lines times intervals)"

    @app.get(
        "/api/v1/stats/mentions",
        dependencies=guarded,
        summary="Matches per day, week or month",
        response_model=MentionsOut,
        responses=errors(400, 401, 503, waits="count", own={400: too_many}),
    )
    async def mentions(
        request: Request,
        rule: Annotated[list[str], Query(description="watch rules (default: every one)")] = [],  # noqa: B006
        interval: Annotated[
            str, Query(description="day, week or month", json_schema_extra=INTERVALS)
        ] = "day",
        since: Annotated[str | None, Query(description="default: 90 days back; 30d or a date")] = None,
        until: Annotated[str | None, Query(description="default: now; a date takes in its whole day")] = None,
        by: Annotated[str | None, Query(description="a line for each", json_schema_extra=GROUPINGS)] = None,
    ) -> Response:
        asked = (rule, interval, since, until, by)
        mention_window(settings, *asked)  # what is wrong is said at once: it reads nothing
        return await counted(request, mention_series, archive, settings, *asked)


def _encoded(work: Callable[..., Any], *arguments: Any) -> bytes:
    return orjson.dumps(work(*arguments))


def _encoded_page(work: Callable[..., tuple[Any, T]], *arguments: Any) -> tuple[bytes, T]:
    """A page of work's, encoded, and where the next begins."""
    page, following = work(*arguments)
    return orjson.dumps(page), following
