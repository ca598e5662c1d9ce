"""The routes of the feeds of a rule's matches, /feeds/rules/{rule}.atom and .json: a feed
reader's poll is a search of the rule, on the read threads and taking its turns as any other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response

from monitor.archive import Archive
from monitor.config.settings import Settings
from monitor.errors import UsageError
from monitor.models import ArchivedArticle
from monitor.names import known_names
from monitor.queries import rule_matches
from monitor.serve.feeds import atom_feed, json_feed, one_per_story
from monitor.serve.searching import Searching, rule_prefixes
from monitor.serve.shapes import errors

FEED_ENTRIES = 50  # stories in a feed of a rule's matches


def add_feeds(
    app: FastAPI, archive: Archive, settings: Settings, readers: Sequence[Any], searching: Searching
) -> None:
    """The feeds of each rule's matches, for clients with the readers' dependencies."""

    async def rule_stories(name: str, request: Request) -> tuple[str, list[ArchivedArticle]]:
        """The rule's name as configured and its newest stories, searched on the read threads
        (a feed reader's poll is a search, which may run up to serve.search_timeout)."""
        try:
            [known] = known_names([name], [rule.name for rule in settings.watch], "watch rule")
        except UsageError as error:  # a feed of no rule is not found, as its page is
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
        prefixes = rule_prefixes(settings, known)
        found = await searching.run(
            prefixes,
            rule_matches,
            archive,
            settings,
            known,
            2 * FEED_ENTRIES,
            known_as=("rule", known),
            gone=request.is_disconnected,
        )
        return known, one_per_story(found)[:FEED_ENTRIES]

    @app.get(
        "/feeds/rules/{name:path}.atom",
        dependencies=list(readers),
        summary="A rule's matches as Atom 1.0, one entry per story",
        response_class=Response,
        responses={
            200: {"content": {"application/atom+xml": {}}},
            **errors(400, 401, 404, 503, waits="search"),
        },
    )
    async def rule_atom(name: str, request: Request) -> Response:
        known, stories = await rule_stories(name, request)
        body = atom_feed(known, stories, _self_url(request), datetime.now(UTC))
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    @app.get(
        "/feeds/rules/{name:path}.json",
        dependencies=list(readers),
        summary="A rule's matches as JSON Feed 1.1, one item per story",
        response_class=JSONResponse,
        responses={
            200: {"content": {"application/feed+json": {}}},
            **errors(400, 401, 404, 503, waits="search"),
        },
    )
    async def rule_json_feed(name: str, request: Request) -> JSONResponse:
        known, stories = await rule_stories(name, request)
        feed = json_feed(known, stories, _self_url(request))
        return JSONResponse(feed, media_type="application/feed+json")


def _self_url(request: Request) -> str:
    """The feed's own address, without the query (which may hold a token), its path escaped as
    an IRI must be (a rule's name has spaces)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    return str(request.base_url).rstrip("/") + quote(raw.decode("latin-1"), safe="/%")
