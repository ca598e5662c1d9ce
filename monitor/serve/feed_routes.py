"""The routes of the feeds of a rule's matches, /feeds/rules/{rule}.atom and .json: a feed
reader's poll reads the matches the rule's hits hold, those that came last (Archive.rule_arrivals,
no search: as light whatever the rule's query), on the read threads."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response

from monitor.archive import Archive
from monitor.config.settings import Settings
from monitor.errors import UsageError
from monitor.models import ArchivedArticle
from monitor.names import known_names
from monitor.serve.auth import is_token
from monitor.serve.feeds import FeedAddresses, atom_feed, json_feed, latest_stories
from monitor.serve.rendering import path_part
from monitor.serve.searching import Searching
from monitor.serve.shapes import NUL_IN_ADDRESS, errors

FEED_ENTRIES = 50  # stories in a feed of a rule's matches
UNCHANGED = {"description": "Not Modified: the request's If-None-Match holds the feed's ETag"}


def add_feeds(
    app: FastAPI, archive: Archive, settings: Settings, readers: Sequence[Any], searching: Searching
) -> None:
    """The feeds of each rule's matches, for clients with the readers' dependencies."""
    # An empty feed's `updated` (Atom requires one): when this server began to serve it, not
    # each poll's time, so that its bytes, and its ETag, stay the same until a match comes.
    started = datetime.now(UTC).replace(microsecond=0)

    async def rule_stories(name: str, request: Request) -> tuple[str, list[ArchivedArticle]]:
        """The rule's name as configured and the stories it matched last (as they arrived, not
        as they are dated: a reader must get a story published days ago that came today),
        newest first, read on the read threads."""
        try:
            [known] = known_names([name], [rule.name for rule in settings.watch], "watch rule")
        except UsageError as error:  # a feed of no rule is not found, as its page is
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
        # Read from the rule's hits, a light read: no turn to wait for (as a quick search).
        found = await searching.run(
            0, _arrivals, archive, known, known_as=("feed", known), gone=request.is_disconnected
        )
        return known, sorted(found, key=lambda item: item.article.published, reverse=True)

    @app.get(
        "/feeds/rules/{name:path}.atom",
        dependencies=list(readers),
        summary="A rule's matches as Atom 1.0, one entry per story",
        response_class=Response,
        responses={
            200: {"content": {"application/atom+xml": {}}},
            304: UNCHANGED,
            **errors(400, 401, 404, 503, waits="search", own=NUL_IN_ADDRESS),
        },
    )
    async def rule_atom(name: str, request: Request) -> Response:
        known, stories = await rule_stories(name, request)
        body = atom_feed(known, stories, _addresses(request, known, "atom", settings.serve.tokens), started)
        return _unless_unchanged(request, Response(body, media_type="application/atom+xml; charset=utf-8"))

    @app.get(
        "/feeds/rules/{name:path}.json",
        dependencies=list(readers),
        summary="A rule's matches as JSON Feed 1.1, one item per story",
        response_class=JSONResponse,
        responses={
            200: {"content": {"application/feed+json": {}}},
            304: UNCHANGED,
            **errors(400, 401, 404, 503, waits="search", own=NUL_IN_ADDRESS),
        },
    )
    async def rule_json_feed(name: str, request: Request) -> Response:
        known, stories = await rule_stories(name, request)
        feed = json_feed(known, stories, _addresses(request, known, "json", settings.serve.tokens))
        return _unless_unchanged(request, JSONResponse(feed, media_type="application/feed+json"))


def _unless_unchanged(request: Request, answer: Response) -> Response:
    """The feed with its ETag (a digest of its bytes), or 304 Not Modified when the reader holds
    those bytes already (If-None-Match): a reader polling every few minutes downloads and parses
    a feed again only when it changed."""
    tag = f'"{hashlib.blake2b(answer.body, digest_size=16).hexdigest()}"'
    held = request.headers.get("if-none-match", "")
    # Weak comparison (RFC 9110, 13.1.2), as a GET's If-None-Match asks; "*": any at all.
    given = {part.strip().removeprefix("W/") for part in held.split(",")}
    if tag in given or "*" in given:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"etag": tag})
    answer.headers["etag"] = tag
    return answer


def _arrivals(
    archive: Archive, rule: str, *, time_limit: float, work_limit: float | None = None
) -> list[ArchivedArticle]:
    return latest_stories(archive, rule, FEED_ENTRIES)


def _addresses(request: Request, rule: str, kind: str, tokens: Sequence[str]) -> FeedAddresses:
    """The feed's own address and its rule's page, by the rule's name as configured (a reader
    asking /feeds/rules/iron%20dome.atom is told the one address of the feed); with the token
    the reader subscribed with in its address (a reader keeps no cookie: one re-subscribing to
    the feed's own address, as JSON Feed's feed_url invites, got a 401 without it), never one
    it sent in a header."""
    base = str(request.base_url).rstrip("/")
    given = request.query_params.get("token", "")
    query = f"?{urlencode({'token': given})}" if given and is_token(given, tokens) else ""
    return FeedAddresses(
        f"{base}/feeds/rules/{path_part(rule)}.{kind}{query}", f"{base}/rules/{path_part(rule)}{query}"
    )
