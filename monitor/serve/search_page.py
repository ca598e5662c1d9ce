"""The search page: the form taking the query language and its filters, and a page of results
newest first, with a link to the next one."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from monitor.archive import Archive, SearchFilters
from monitor.config.settings import Settings
from monitor.errors import QueryError, SearchTooSlow, UsageError
from monitor.queries import SearchAsked, search_filters, searched_query
from monitor.serve.cursors import read_cursor, write_cursor
from monitor.serve.feeds import latest_stories
from monitor.serve.prefixes import prefixes_asked
from monitor.serve.query_places import query_hits, query_places
from monitor.serve.rendering import page, spelled
from monitor.serve.searching import Searching, retry_after

PER_PAGE = 30


@dataclass(frozen=True, slots=True)
class SearchForm:
    """The search form as the browser sent it."""

    q: str = ""
    rule: str = ""
    source: str = ""
    lang: str | None = None
    since: str | None = None
    until: str | None = None
    matched: bool = False
    fetched_since: str | None = None  # the API's filter, in a page's address: shown when given

    def as_sent(self) -> dict[str, str]:
        """The form's fields as a browser sends them (a link to the next page keeps them)."""
        return {
            "q": self.q, "rule": self.rule, "source": self.source, "lang": self.lang or "",
            "since": self.since or "", "until": self.until or "", "matched": "true" if self.matched else "",
            "fetched_since": self.fetched_since or "",
        }  # fmt: skip


class SearchPage:
    """The route of `/`, its searches run by `searching`."""

    def __init__(self, archive: Archive, settings: Settings, searching: Searching) -> None:
        self.archive = archive
        self.settings = settings
        self.searching = searching

    async def search_page(
        self,
        q: str = "",
        rule: str = "",
        source: str = "",
        lang: str | None = None,
        since: str | None = None,
        until: str | None = None,
        matched: bool = False,
        cursor: str | None = None,
        fetched_since: str | None = None,
        *,
        request: Request,
    ) -> HTMLResponse:
        asked = SearchForm(
            q, rule, source, lang or None, since or None, until or None, matched, fetched_since or None
        )
        # On the read side's threads, as the API's search: slow searches must not take the
        # threads of FastAPI, on which /healthz and the other pages answer.
        try:
            return await self.searching.run(
                prefixes_asked(q),
                self.results,
                asked,
                cursor,
                check=partial(self.filters, asked, cursor),
                known_as=(asked, cursor),
                gone=request.is_disconnected,
            )
        except SearchTooSlow as error:  # stopped at its time limit, or no turn came for it
            return self.refused(asked, 503, str(error), headers=retry_after(error))

    def filters(self, asked: SearchForm, cursor: str | None) -> SearchFilters:
        """The filters of the page's search; UsageError for what is wrong in them."""
        search = SearchAsked(
            asked.q, asked.since, asked.fetched_since, asked.until, [asked.source] if asked.source else [],
            [asked.rule] if asked.rule else [], asked.matched, asked.lang, PER_PAGE + 1,
        )  # fmt: skip  # one more than the page shows: whether a page follows
        return replace(search_filters(self.archive, self.settings, search), after=read_cursor(cursor))

    def form_values(self, asked: SearchForm) -> dict[str, Any]:
        """The form as asked, its rule and source selected whatever the case they were given in
        (sent again, the form keeps its filters)."""
        rule_names = [each.name for each in self.settings.watch]
        source_names = [each.name for each in self.settings.sources]
        return {
            "asked": asked,
            "rule_names": rule_names,
            "source_names": source_names,
            "rule_selected": spelled(asked.rule, rule_names),
            "source_selected": spelled(asked.source, source_names),
            "results": None,
            "error": None,
            "next_url": None,
        }

    def refused(
        self,
        asked: SearchForm,
        code: int,
        message: str,
        pointer: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """The search form as asked, with why it has no results."""
        values = self.form_values(asked)
        values["error"] = {"message": message, "pointer": pointer, "field": _field_refused(message, pointer)}
        return page("search.html", code, headers, **values)

    def results(
        self, asked: SearchForm, cursor: str | None, *, time_limit: float, work_limit: float | None = None
    ) -> HTMLResponse:
        """The page of the search's results; SearchTooSlow past its limits (Archive.search)."""
        values = self.form_values(asked)
        wanted = (asked.rule, asked.source, asked.lang, asked.since, asked.until, asked.matched)
        if not (asked.q.strip() or any(wanted)):  # nothing asked: what the rules matched last
            values["latest"] = latest_stories(self.archive, None, PER_PAGE)
            return page("search.html", **values)
        try:
            filters = self.filters(asked, cursor)
            query = searched_query(self.archive, self.settings, asked.q)
            found = self.archive.search(query, filters, time_limit, work_limit)
        except QueryError as error:
            return self.refused(asked, 400, str(error), error.pointer())
        except UsageError as error:
            return self.refused(asked, 400, str(error))
        values["results"] = found[:PER_PAGE]
        if query is not None:  # where the query's words are, rather than the rules' terms
            places = query_places(query)
            shown = found[:PER_PAGE]
            values["query_hits"] = {item.article.id: query_hits(places, item.article) for item in shown}
        if len(found) > PER_PAGE:
            last = found[PER_PAGE - 1].article
            form = {key: value for key, value in asked.as_sent().items() if value}
            values["next_url"] = "/?" + urlencode({**form, "cursor": write_cursor(last.published, last.id)})
        return page("search.html", **values)


def _field_refused(message: str, pointer: str | None) -> str:
    """The form's field a refusal is about, for the page to mark it and put the cursor there:
    the query's unless the message names another (UsageError's messages begin with it)."""
    if pointer is None:
        for field, begins in _REFUSAL_BEGINNINGS.items():
            if message.startswith(begins):
                return field
    return "q"


_REFUSAL_BEGINNINGS = {
    "since": ("since ", "since is not before until"),
    "until": ("until ",),
    "fetched_since": ("fetched_since ",),
    "lang": ("lang ", "language "),
    "source": ("no source named",),
    "rule": ("no watch rule named",),
}
