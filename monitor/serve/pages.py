"""The web pages: search, an article, the rules and one rule's chart, the sources' health, the
alerts with a retry button. Server-rendered HTML (Jinja2, every value escaped) with no script
at all, so the Content-Security-Policy (web.py) can forbid every script: an article's text or
title holding markup shows as text and runs nothing. The hits' marks are the only HTML built
from an article, and that is cleaned against an allow-list (nh3) before it is sent."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache, partial
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import nh3
from fastapi import FastAPI, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from monitor.archive import Archive, SearchFilters
from monitor.config.settings import Settings
from monitor.errors import QueryError, SearchTooSlow, ServerBusy, UsageError
from monitor.highlights import html_marked
from monitor.mentions import mention_series
from monitor.models import AlertState, ArchivedArticle, Article, Hit
from monitor.names import name_key
from monitor.queries import (
    SearchAsked,
    alert_history,
    rule_matches,
    rules_overview,
    search_filters,
    searched_query,
    source_health,
)
from monitor.serve.chart import line_chart
from monitor.serve.cursors import read_cursor, write_cursor
from monitor.serve.searching import Searching, prefixes_asked, retry_after, rule_prefixes

PER_PAGE = 30
MOST_RETRIED = 1000  # alert ids in one retry form
RECENT_MATCHES = 20


def _marked(snippet: str, term: str) -> Markup:
    """The snippet with the term marked where the matcher finds it (highlights.py); the HTML
    cleaned (nh3) to <mark>."""
    return Markup(nh3.clean(html_marked(snippet, term), tags={"mark"}, attributes={}, link_rel=None))


def _hits_of(article: Article, rule: str | None) -> list[Hit]:
    return [hit for hit in article.hits if hit.term and (rule is None or hit.rule == rule)]


def _safe_link(url: str) -> str:
    """The URL when it is http(s); a page never links a javascript: or data: URL a feed gave."""
    return url if urlsplit(url).scheme in ("http", "https") else "#"


# Paths answered for programs (JSON, feeds, metrics): everything else is a page for a person.
_NOT_PAGES = ("/api/", "/feeds/", "/static/", "/openapi.json", "/metrics", "/healthz", "/csp-report")


def is_page(path: str) -> bool:
    return not path.startswith(_NOT_PAGES)


def problem_page(
    code: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    links: Sequence[tuple[str, str]] = (),
    links_title: str = "",
) -> HTMLResponse:
    """A page saying what is wrong (a 404's missing rule, a 401's token), with `links` (name,
    address) to go on from."""
    values = {
        "title": HTTPStatus(code).phrase,
        "message": message,
        "links": links,
        "links_title": links_title,
    }
    return HTMLResponse(
        _environment().get_template("problem.html").render(**values), code, dict(headers or {})
    )


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("monitor.serve", "templates"), autoescape=select_autoescape(default=True)
    )
    environment.globals.update(marked=_marked, hits_of=_hits_of, safe_link=_safe_link)
    return environment


@dataclass(frozen=True, slots=True)
class _Asked:
    """The search form as the browser sent it."""

    q: str = ""
    rule: str = ""
    source: str = ""
    lang: str | None = None
    since: str | None = None
    until: str | None = None
    matched: bool = False


def add_pages(
    app: FastAPI,
    archive: Archive,
    settings: Settings,
    readers: Sequence[Any],
    searching: Searching,
    counting: Searching,
) -> None:
    """The pages' routes on the app, behind the same token check as the API (`readers`); the
    searches run by `searching`, the counts by `counting`."""
    templates = _environment()
    csrf = secrets.token_urlsafe(32)  # this process's: a form from another site cannot know it

    def page(
        name: str, code: int = 200, headers: dict[str, str] | None = None, **values: Any
    ) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**values), code, headers)

    @app.get("/", dependencies=list(readers), response_class=HTMLResponse, include_in_schema=False)
    async def search_page(
        q: str = "",
        rule: str = "",
        source: str = "",
        lang: str | None = None,
        since: str | None = None,
        until: str | None = None,
        matched: bool = False,
        cursor: str | None = None,
        *,
        request: Request,
    ) -> HTMLResponse:
        asked = _Asked(q, rule, source, lang or None, since or None, until or None, matched)
        # On the read side's threads, as the API's search: slow searches must not take the
        # threads of FastAPI, on which /healthz and the other pages answer.
        try:
            checked = partial(search_of, asked, cursor)
            return await searching.run(
                prefixes_asked(q),
                search_results,
                asked,
                cursor,
                check=checked,
                known_as=(asked, cursor),
                gone=request.is_disconnected,
            )
        except SearchTooSlow as error:  # stopped at its time limit, or no turn came for it
            return refused_search(asked, 503, str(error), headers=retry_after(error))

    def search_of(asked: _Asked, cursor: str | None) -> SearchFilters:
        """The filters of the page's search; UsageError for what is wrong in them."""
        search = SearchAsked(
            asked.q, asked.since, None, asked.until, [asked.source] if asked.source else [],
            [asked.rule] if asked.rule else [], asked.matched, asked.lang, PER_PAGE,
        )  # fmt: skip
        return replace(search_filters(archive, settings, search), after=read_cursor(cursor))

    def form_values(asked: _Asked) -> dict[str, Any]:
        """The form as asked, its rule and source selected whatever the case they were given in
        (sent again, the form keeps its filters)."""
        return {
            "asked": asked,
            "rule_names": [each.name for each in settings.watch],
            "source_names": [each.name for each in settings.sources],
            "rule_selected": _spelled(asked.rule, [each.name for each in settings.watch]),
            "source_selected": _spelled(asked.source, [each.name for each in settings.sources]),
            "results": None,
            "error": None,
            "next_url": None,
        }

    def refused_search(
        asked: _Asked,
        code: int,
        message: str,
        pointer: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """The search form as asked, with why it has no results."""
        values = form_values(asked)
        values["error"] = {"message": message, "pointer": pointer}
        return page("search.html", code, headers, **values)

    def search_results(
        asked: _Asked, cursor: str | None, *, time_limit: float, cpu_limit: float | None = None
    ) -> HTMLResponse:
        """The page of the search's results; SearchTooSlow past its limits (Archive.search)."""
        values = form_values(asked)
        wanted = (asked.rule, asked.source, asked.lang, asked.since, asked.until, asked.matched)
        if not (asked.q.strip() or any(wanted)):
            return page("search.html", **values)
        try:
            filters = search_of(asked, cursor)
            query = searched_query(archive, settings, asked.q)
            found = archive.search(query, filters, time_limit, cpu_limit)
        except QueryError as error:
            return refused_search(asked, 400, str(error), error.pointer())
        except UsageError as error:
            return refused_search(asked, 400, str(error))
        values["results"] = found
        if len(found) == PER_PAGE:
            last = found[-1].article
            form = {key: value for key, value in _form_of(asked).items() if value}
            values["next_url"] = "/?" + urlencode({**form, "cursor": write_cursor(last.published, last.id)})
        return page("search.html", **values)

    @app.get(
        "/articles/{article_id}",
        dependencies=list(readers),
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def article_page(article_id: str) -> HTMLResponse:
        item = archive.article(article_id)
        if item is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no article {article_id!r} in the archive")
        paragraphs = [part.strip() for part in re.split(r"\n\s*\n|\n", item.article.text) if part.strip()]
        return page("article.html", item=item, article=item.article, paragraphs=paragraphs)

    @app.get("/rules", dependencies=list(readers), response_class=HTMLResponse, include_in_schema=False)
    async def rules_page(request: Request) -> HTMLResponse:
        return await counted_page(request, rules_answer, "Watch rules", "/rules")

    def rules_answer() -> HTMLResponse:
        return page("rules.html", rules=rules_overview(archive, settings))

    async def counted_page(
        request: Request, answer: Callable[[], HTMLResponse], title: str, path: str
    ) -> HTMLResponse:
        """The page `answer` counts and renders, on a read thread once it has a turn (with
        10,000 sources the sources' page takes 0.3 s to render); busy, a page saying so."""
        try:
            return await counting.count(answer, gone=request.is_disconnected)
        except ServerBusy as error:
            return page("busy.html", 503, retry_after(error), title=title, message=str(error), path=path)

    @app.get(
        "/rules/{name:path}", dependencies=list(readers), response_class=HTMLResponse, include_in_schema=False
    )
    async def rule_page(name: str, request: Request) -> HTMLResponse:
        known = _spelled(name, [rule.name for rule in settings.watch])
        if known is None:
            rules = [(rule.name, f"/rules/{quote(rule.name, safe='')}") for rule in settings.watch]
            return problem_page(404, f"no watch rule {name!r}", links=rules, links_title="The watch rules:")
        # Heavy whatever its query: its counts and chart read every match of the rule (0.7 s of
        # the processor at a million articles), and its recent matches are a search.
        turns = max(1, rule_prefixes(settings, known))
        try:
            return await searching.run(turns, rule_answer, known, gone=request.is_disconnected)
        except ServerBusy as error:  # no turn came for it: nothing read
            return refused_search(_Asked(rule=known), 503, str(error), headers=retry_after(error))

    def rule_answer(name: str, *, time_limit: float, cpu_limit: float | None = None) -> HTMLResponse:
        recent: list[ArchivedArticle] = []
        too_slow = None
        try:
            recent = rule_matches(archive, settings, name, RECENT_MATCHES, time_limit=time_limit)
        except SearchTooSlow as error:  # the chart and counts are still worth showing
            too_slow = str(error)
        overview = {rule["name"]: rule for rule in rules_overview(archive, settings)}
        series = mention_series(archive, settings, [name], "day", None, None, None)
        points = series["series"][0]["points"]
        return page(
            "rule.html",
            rule=overview[name],
            chart=line_chart([(point["start"], point["count"]) for point in points]),
            total=sum(point["count"] for point in points),
            first_day=points[0]["start"],
            last_day=points[-1]["start"],
            recent=recent,
            too_slow=too_slow,
        )

    @app.get("/sources", dependencies=list(readers), response_class=HTMLResponse, include_in_schema=False)
    async def sources_page(request: Request) -> HTMLResponse:
        return await counted_page(request, sources_answer, "Sources", "/sources")

    def sources_answer() -> HTMLResponse:
        health = source_health(archive, settings, activity=True)
        ordered = sorted(
            health, key=lambda source: not source["failing"]
        )  # failing first, else as configured
        return page("sources.html", sources=ordered, failing=sum(source["failing"] for source in health))

    @app.get("/alerts", dependencies=list(readers), response_class=HTMLResponse, include_in_schema=False)
    def alerts_page(retried: Annotated[int | None, Query()] = None) -> HTMLResponse:
        history = alert_history(archive, 500)
        counts = [
            (state.value, sum(alert["state"] == state.value for alert in history)) for state in AlertState
        ]
        notice = f"{retried} queued again: the daemon sends it at its next dispatch" if retried else None
        return page("alerts.html", alerts=history, counts=counts, csrf=csrf, notice=notice)

    @app.post("/alerts/retry", dependencies=list(readers), include_in_schema=False)
    async def retry(request: Request) -> RedirectResponse:
        # The form is read here, after the token check (a Form parameter would have FastAPI read
        # the body first, an upload of any size included), and files are refused.
        try:
            form = await request.form(max_files=0, max_fields=MOST_RETRIED + 1)
        except HTTPException:
            raise
        except Exception as error:  # multipart errors, a file, too many fields
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"not a retry form: {error}") from None
        csrf_given = str(form.get("csrf", ""))
        ids = [str(value) for value in form.getlist("id")]
        origin = request.headers.get("origin")
        if not hmac.compare_digest(csrf_given.encode(), csrf.encode()) or (
            origin is not None and origin != str(request.base_url).rstrip("/")
        ):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "the form is not one this server gave: reload the page"
            )
        if not ids or len(ids) > MOST_RETRIED:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"give 1 to {MOST_RETRIED} alert ids")
        if any("\x00" in each for each in ids):  # PostgreSQL refuses it in text outright
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "an alert id holds a NUL character")
        missing = await run_in_threadpool(archive.outbox.missing_alerts, ids)
        if missing:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {', '.join(missing)}")
        count = await run_in_threadpool(archive.outbox.retry_alerts, ids, False, datetime.now(UTC))
        return RedirectResponse(f"/alerts?retried={count}", status.HTTP_303_SEE_OTHER)


def _form_of(asked: _Asked) -> dict[str, Any]:
    return {
        "q": asked.q, "rule": asked.rule, "source": asked.source, "lang": asked.lang or "",
        "since": asked.since or "", "until": asked.until or "", "matched": "true" if asked.matched else "",
    }  # fmt: skip


def _spelled(asked: str, names: list[str]) -> str | None:
    """The name among `names` that `asked` is (name_key), or None."""
    return next((name for name in names if name_key(name) == name_key(asked)), None) if asked else None
