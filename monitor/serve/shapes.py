"""The API's JSON shapes, as its OpenAPI document describes them: FastAPI checks every answer
against these but the search's and the counts' (which encode their own on the read threads,
api.py and listings.py; tests check them against ArticlePage, SourceOut, RuleOut and MentionsOut), so the
document and what is served cannot part (schemathesis tests both). The
article is INTERFACE.md's, the one `search --format json` prints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MOST_PER_PAGE = 200


class SearchParams(BaseModel):
    """The search's query parameters (GET /api/v1/articles): the route validates the query
    string with this model, and its document lists them from it (query_parameters)."""

    q: str = Field("", description="the rule language; empty: every article")
    since: str | None = Field(None, description="published since: 7d, 24h or a date")
    until: str | None = Field(
        None, description="published until: a date (its whole day taken in) or a moment"
    )
    fetched_since: str | None = Field(None, description="arrived in the archive since")
    source: list[str] = Field([], description="source names (any of them)")
    rule: list[str] = Field([], description="watch rules that matched (any of them)")
    matched: bool = Field(False, description="only articles a rule matched")
    lang: str | None = Field(None, description="language code, e.g. en, zh, ja")
    limit: int = Field(50, ge=1, le=MOST_PER_PAGE)
    cursor: str | None = Field(None, description="next_cursor of the page before")


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The model's fields as an OpenAPI operation's query parameters, as FastAPI writes them."""
    described = []
    for name, schema in model.model_json_schema()["properties"].items():
        parameter = {"name": name, "in": "query", "required": False, "schema": schema}
        if "description" in schema:
            parameter["description"] = schema["description"]
        described.append(parameter)
    return described


class HitOut(BaseModel):
    rule: str
    term: str
    snippet: str


class CopyOut(BaseModel):
    source: str
    url: str


class ArticleOut(BaseModel):
    id: str
    url: str
    title: str
    source: str
    published: str | None
    fetched: str | None
    published_inferred: bool
    revised: str | None  # when a new version of its entry replaced it; null: never
    language: str | None
    summary: str
    rules: list[str]
    hits: list[HitOut]
    story: str
    also_reported_by: list[CopyOut]


class ArticlePage(BaseModel):
    articles: list[ArticleOut]
    next_cursor: str | None  # give it as `cursor` for the page after; null: the last page


class SourceOut(BaseModel):
    name: str
    url: str
    moved_to: str | None
    status: str
    failing: bool
    interval: str | None
    last_fetch: str | None
    consecutive_errors: int
    next_due: str | None
    last_error: str | None
    polling_since: str | None  # a daemon's poll of it running since then
    last_new_article: str | None  # when its newest article arrived
    articles_per_day: float  # published, over the last 7 days


class AlertOut(BaseModel):
    id: str
    created: str | None
    alert: str
    channel: str
    rules: list[str]
    article_id: str
    article: str
    url: str | None
    state: str
    attempts: int
    next_attempt: str | None
    last_error: str | None


class RuleOut(BaseModel):
    name: str
    query: str
    understood: str
    matches: dict[str, int]  # articles matched, published in the last 24h, 7d, 30d


class PointOut(BaseModel):
    start: str  # the interval's first day
    count: int


class SeriesOut(BaseModel):
    rule: str
    source: str | None = None  # with by=source
    language: str | None = None  # with by=language
    points: list[PointOut]


class MentionsOut(BaseModel):
    interval: str
    since: str | None
    until: str | None
    by: str | None
    series: list[SeriesOut]


class HealthOut(BaseModel):
    archive: str  # "ok", or why it does not answer
    scheduler: str
    last_poll_seconds_ago: float | None


class ErrorOut(BaseModel):
    error: str
    query: str | None = None  # a query that does not parse: where, and the query with a caret
    position: int | None = None
    pointer: str | None = None


RETRY_AFTER = {
    "Retry-After": {
        "description": "with a busy server: in how many seconds a turn is likely free",
        "schema": {"type": "integer", "minimum": 1},
    }
}


# The 400 of a route taking no query, name nor date: only its parameters can be wrong.
PARAMETERS_WRONG = {400: "a parameter is not one the route takes, or is given twice"}
# Of a route that takes no parameter and ignores any (a feed reader's cache-buster, a scraper's
# `params`): only what no route takes is refused.
NUL_IN_ADDRESS = {400: "the request's path or query holds a NUL character (%00)"}


def errors(
    *codes: int, waits: Literal["search", "count"] | None = None, own: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The error answers a route may give, for its document. `waits`: what the route waits a
    turn for, "search" or "count" (Searching), which a busy server may refuse; `own`: a
    route's own words for a code."""
    said = {
        400: "the query does not parse, a name, date or cursor is not known, or a parameter is not "
        "one the route takes or is given twice",
        401: "a token is required",
        404: "not in the archive",
        503: "the archive does not answer",
    }
    if waits == "search":
        said[503] += (
            ", the search ran longer than serve.search_timeout, or the server is busy with other "
            "heavy searches and did not run this one (then with Retry-After)"
        )
    elif waits == "count":
        said[503] += (
            ", or the server is busy counting for others and did not count this (then with Retry-After)"
        )
    said |= own or {}
    answers: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorOut, "description": said[code]} for code in codes
    }
    if waits and 503 in answers:
        answers[503]["headers"] = RETRY_AFTER
    return answers
