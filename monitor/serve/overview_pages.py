"""The pages that read more than a search: an article with its story's copies, the watch rules
with their counts, one rule with its chart and recent matches, the sources' health."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse

from monitor.archive import Archive
from monitor.config.settings import Settings
from monitor.errors import SearchTooSlow, ServerBusy
from monitor.mentions import mention_series
from monitor.models import ArchivedArticle
from monitor.queries import rule_matches, rules_overview, source_health
from monitor.serve.auth import token_of_address
from monitor.serve.chart import line_chart
from monitor.serve.prefixes import rule_prefixes
from monitor.serve.rendering import counted_page, page, path_part, problem_page, spelled
from monitor.serve.searching import Searching, retry_after

RECENT_MATCHES = 20


class OverviewPages:
    """The routes of /articles/{id}, /rules, /rules/{name} and /sources: a rule's page by
    `searching` (its recent matches are a search), the rules' and the sources' by `counting`."""

    def __init__(
        self,
        archive: Archive,
        settings: Settings,
        searching: Searching,
        counting: Searching,
    ) -> None:
        self.archive = archive
        self.settings = settings
        self.searching = searching
        self.counting = counting

    def article_page(self, article_id: str) -> HTMLResponse:
        item = self.archive.article(article_id)
        if item is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no article {article_id!r} in the archive")
        paragraphs = [part.strip() for part in re.split(r"\n\s*\n|\n", item.article.text) if part.strip()]
        return page("article.html", item=item, article=item.article, paragraphs=paragraphs)

    async def rules_page(self, request: Request) -> HTMLResponse:
        return await counted_page(
            self.counting,
            request,
            self._rules_answer,
            self._feed_query(request),
            title="Watch rules",
            path="/rules",
        )

    def _rules_answer(self, feed_query: str) -> HTMLResponse:
        return page("rules.html", rules=rules_overview(self.archive, self.settings), feed_query=feed_query)

    def _feed_query(self, request: Request) -> str:
        """?token=… for the feeds' links of a page, when the server has tokens: copied into a
        feed reader, which keeps no cookie, they must answer (a browser following one is sent
        on without it, as to a page). Never a token sent as a header (token_of_address)."""
        token = token_of_address(request, self.settings.serve.tokens)
        return f"?{urlencode({'token': token})}" if token else ""

    async def rule_page(self, name: str, request: Request) -> HTMLResponse:
        watch = self.settings.watch
        known = spelled(name, [rule.name for rule in watch])
        if known is None:
            rules = [(rule.name, f"/rules/{path_part(rule.name)}") for rule in watch]
            return problem_page(404, f"no watch rule {name!r}", links=rules, links_title="The watch rules:")
        # Heavy whatever its query: its counts and chart read every match of the rule (0.7 s of
        # the processor at a million articles), and its recent matches are a search.
        turns = max(1, rule_prefixes(self.settings, known))
        try:
            feed_query = self._feed_query(request)
            return await self.searching.run(
                turns, self._rule_answer, known, feed_query, gone=request.is_disconnected
            )
        except ServerBusy as error:  # no turn came for it: nothing read
            title, path = f"Watch rule {known}", f"/rules/{path_part(known)}"
            message = error.saying()  # not "or narrow it": a rule's page has nothing to narrow
            return page("busy.html", 503, retry_after(error), title=title, message=message, path=path)

    def _rule_answer(
        self, name: str, feed_query: str, *, time_limit: float, work_limit: float | None = None
    ) -> HTMLResponse:
        recent: list[ArchivedArticle] = []
        too_slow = None
        try:
            recent = rule_matches(self.archive, self.settings, name, RECENT_MATCHES, time_limit=time_limit)
        except SearchTooSlow as error:  # the chart and counts are still worth showing
            too_slow = str(error)
        overview = {rule["name"]: rule for rule in rules_overview(self.archive, self.settings)}
        series = mention_series(self.archive, self.settings, [name], "day", None, None, None)
        points = series["series"][0]["points"]
        return page(
            "rule.html",
            rule=overview[name],
            chart=line_chart([(point["start"], point["count"]) for point in points]),
            days_matched=[(point["start"], point["count"]) for point in points if point["count"]],
            total=sum(point["count"] for point in points),
            first_day=points[0]["start"],
            last_day=points[-1]["start"],
            recent=recent,
            too_slow=too_slow,
            feed_query=feed_query,
        )

    async def sources_page(self, request: Request) -> HTMLResponse:
        return await counted_page(
            self.counting, request, self._sources_answer, title="Sources", path="/sources"
        )

    def _sources_answer(self) -> HTMLResponse:
        health = source_health(self.archive, self.settings, activity=True)
        ordered = sorted(health, key=lambda source: not source["failing"])  # failing first
        return page("sources.html", sources=ordered, failing=sum(source["failing"] for source in health))
