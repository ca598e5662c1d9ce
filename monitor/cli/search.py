"""`monitor search` and `monitor backfill`: the archive queried with the rule language."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from monitor.archive import Archive
from monitor.cli.output import show
from monitor.config.settings import Settings
from monitor.errors import UsageError
from monitor.moments import moment
from monitor.names import known_names
from monitor.payloads import article_json
from monitor.phrases import counted
from monitor.queries import SearchAsked, search
from monitor.runtime import event_loop


def backfill_command(settings: Settings, path: str, args: argparse.Namespace) -> int:
    from monitor.app import build_app, compile_rule
    from monitor.archive.backends import no_archive_yet
    from monitor.backfill import backfill

    rules = {rule.name: rule for rule in settings.watch}
    [name] = known_names([args.rule], rules, "watch rule")
    rule = compile_rule(rules[name])
    since = moment(args.since, "--since")
    absent = no_archive_yet(settings.database_url())
    if absent is not None:
        raise UsageError(f"{absent}: nothing to backfill")

    async def run() -> list[dict[str, Any]]:
        app = build_app(settings, path)
        try:
            caught = await backfill(app.archive, app.dispatcher, rule, since, args.alert)
        finally:
            await app.aclose()
        return [
            {**article_json(item.archived), "new": item.new, "hits": _hits_json(item.hits)} for item in caught
        ]

    records = event_loop.run(run())
    show(records, ("published", "source", "title", "new", "url"), args.format)
    new = sum(1 for record in records if record["new"])
    if not args.alert:
        action = "not recorded (use --alert)"
    elif not any(alert.rules is None or name in alert.rules for alert in settings.alerts):
        action = "recorded (no alert takes this rule)" if new else "nothing to record"
    elif new:  # a story alerted before (by another rule of the alert) is not alerted again
        action = "recorded, and alerted where their stories had not been"
    else:  # the rule's matches already: their alerts went out when they were matched
        action = "nothing to record or alert"
    verb = "matches" if len(records) == 1 else "match"
    said = f"{counted(len(records), 'article')} {verb}, {new} new: {action}"
    print(f"backfill {args.rule!r}: {said}", file=sys.stderr)
    return 0


def _hits_json(hits: Sequence[Any]) -> list[dict[str, str]]:
    return [{"rule": hit.rule, "term": hit.term, "snippet": hit.snippet} for hit in hits if hit.term]


def search_command(archive: Archive, settings: Settings, args: argparse.Namespace) -> int:
    asked = SearchAsked(
        args.query,
        since=args.since,
        fetched_since=args.fetched_since,
        until=args.until,
        sources=args.source,
        rules=args.rule,
        matched=args.matched,
        language=args.lang,
        limit=args.limit + 1,  # one more than shown: whether there are more to say
    )
    found = search(archive, settings, asked)
    records = [article_json(item) for item in found[: args.limit]]
    columns: tuple[str, ...] = ("published", "source", "title", "rules", "url")
    if args.format == "csv":  # a spreadsheet has the room: why each article matched, too
        columns += ("language", "summary", "matched")
        for record in records:
            record["matched"] = " | ".join(f"{hit['term']}: {hit['snippet']}" for hit in record["hits"])
    show(records, columns, args.format)
    if len(found) > args.limit:  # on stderr: a CSV or JSON on stdout stays whole
        print(f"monitor: the newest {args.limit} shown; there are more (--limit N)", file=sys.stderr)
    return 0
