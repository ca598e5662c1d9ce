"""`monitor search` and `monitor backfill`: the archive queried with the rule language."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.archive import Archive, SearchFilters
from monitor.cli.names import known_names
from monitor.cli.output import render
from monitor.config.durations import parse_duration
from monitor.config.settings import Settings
from monitor.errors import UsageError
from monitor.payloads import article_json
from monitor.rules import parse_query


def backfill_command(settings: Settings, path: str, args: argparse.Namespace) -> int:
    from monitor.app import build_app, compile_rule
    from monitor.backfill import backfill

    rules = {rule.name: rule for rule in settings.watch}
    [name] = known_names([args.rule], rules, "watch rule")
    rule = compile_rule(rules[name])
    since = _moment(args.since, "--since")

    async def run() -> list[dict[str, Any]]:
        app = build_app(settings, path)
        try:
            caught = await backfill(app.archive, app.dispatcher, rule, since, args.alert)
        finally:
            await app.aclose()
        return [
            {**article_json(item.archived), "new": item.new, "hits": _hits_json(item.hits)} for item in caught
        ]

    records = asyncio.run(run())
    print(render(records, ("published", "source", "title", "new", "url"), args.format))
    new = sum(1 for record in records if record["new"])
    action = "recorded and alerted" if args.alert else "not recorded (use --alert)"
    print(f"backfill {args.rule!r}: {len(records)} articles match, {new} new: {action}", file=sys.stderr)
    return 0


def _hits_json(hits: Sequence[Any]) -> list[dict[str, str]]:
    return [{"rule": hit.rule, "term": hit.term, "snippet": hit.snippet} for hit in hits if hit.term]


def _moment(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: give a duration (7d, 24h) or a date (2026-01-06)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def search_command(archive: Archive, settings: Settings, args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    node = parse_query(args.query)
    sources = {source.name for source in settings.sources} | {state.name for state in archive.source_states()}
    filters = SearchFilters(
        since=_moment(args.since, "--since"),
        fetched_since=_moment(args.fetched_since, "--fetched-since"),
        until=_moment(args.until, "--until"),
        sources=known_names(args.source, sources, "source"),
        rules=known_names(args.rule, [rule.name for rule in settings.watch], "watch rule"),
        matched=args.matched,
        language=args.lang,
        limit=args.limit,
    )
    records = [article_json(found) for found in archive.search(node, filters)]
    columns: tuple[str, ...] = ("published", "source", "title", "rules", "url")
    if args.format == "csv":  # a spreadsheet has the room: why each article matched, too
        columns += ("language", "summary", "matched")
        for record in records:
            record["matched"] = " | ".join(f"{hit['term']}: {hit['snippet']}" for hit in record["hits"])
    print(render(records, columns, args.format))
    return 0
