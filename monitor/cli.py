"""The `monitor` command: parse arguments, call the app, format the output."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.archive import SearchFilters
from monitor.archive.connections import refuse_unless_ours
from monitor.archive.space import disk_full_warning
from monitor.archive.sql import SqlArchive
from monitor.config_file import config_path, load_settings
from monitor.durations import format_duration, parse_duration
from monitor.errors import ArchiveError, ConfigError, DaemonRunningError, MonitorError, QueryError, UsageError
from monitor.inspect import extract_command, test_rule_command
from monitor.models import ARCHIVE_ERROR, INTERNAL_ERROR, AlertState, SourceState
from monitor.output import FORMATS, counted, render
from monitor.payloads import article_json, iso
from monitor.rules import parse_query, to_text
from monitor.settings import Settings
from monitor.sources_cli import add_command, export_command, import_command

EPILOG = """examples:
  monitor check
  monitor once --source "Focus Taiwan"
  monitor search '"Iron Dome" AND (Japan OR Taiwan)' --since 7d
  monitor search 'T-Dome OR 台灣之盾' --matched --format json
  monitor test-rule 'laser NEAR/5 weapon*' --text "Japan studies laser weapons"
  monitor backfill "Iron Dome" --since 30d --alert
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Media monitoring: watch rules over news sources, an archive, alerts.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument(
        "-c", "--config", help="config file (default: $MONITOR_CONFIG or config/monitor.yaml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="run the daemon (SIGINT/SIGTERM stop it cleanly)")
    once = commands.add_parser("once", help="poll every (or the named) source once, send alerts")
    once.add_argument("--source", action="append", default=[], metavar="NAME")
    search = commands.add_parser("search", help="query the archive with the rule language")
    search.add_argument("query")
    search.add_argument("--since", help="published since: 7d, 24h or a date (2026-01-06)")
    search.add_argument(
        "--fetched-since", help="arrived in the archive since: 7d, 24h or a date (old articles fetched late)"
    )
    search.add_argument("--until", help="a date or datetime")
    search.add_argument("--source", action="append", default=[], metavar="NAME")
    search.add_argument("--rule", action="append", default=[], metavar="NAME")
    search.add_argument("--matched", action="store_true", help="only articles a rule matched")
    search.add_argument("--lang", help="language code, e.g. en, zh, ja")
    search.add_argument("--limit", type=int, default=50)
    search.add_argument("--format", choices=FORMATS, default="table")
    backfill = commands.add_parser("backfill", help="run a watch rule over the archive")
    backfill.add_argument("rule", help="the name of a watch rule in the config")
    backfill.add_argument("--since", default="30d", help="how far back: 30d, 12h or a date")
    backfill.add_argument("--alert", action="store_true", help="record the hits and send alerts")
    backfill.add_argument("--format", choices=FORMATS, default="table")
    sources = commands.add_parser(
        "sources",
        help="each source's health and schedule; add, import, export sources",
        epilog="examples:\n  monitor sources add https://focustaiwan.tw/\n"
        "  monitor sources import feeds.opml\n  monitor sources export -o feeds.opml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sources.add_argument("--format", choices=FORMATS, default="table")
    source_actions = sources.add_subparsers(dest="source_action", metavar="ACTION")
    add = source_actions.add_parser("add", help="discover a site's feeds and add one to the config")
    add.add_argument("url", help="a homepage or a feed URL")
    add.add_argument("--name", help="the source's name (default: the feed's title)")
    add.add_argument("--pick", type=int, default=1, help="which of the feeds found (default 1)")
    add.add_argument("--allow-private", action="store_true", help="the site is on a private network")
    add.add_argument("--print", dest="only_print", action="store_true", help="print the YAML, edit nothing")
    opml_in = source_actions.add_parser("import", help="add the feeds of an OPML file to the config")
    opml_in.add_argument("file", type=Path)
    opml_in.add_argument(
        "--print", dest="only_print", action="store_true", help="print the YAML, edit nothing"
    )
    opml_out = source_actions.add_parser("export", help="write the configured sources as OPML 2.0")
    opml_out.add_argument("-o", "--output", type=Path, help="a file (default: standard output)")
    alerts = commands.add_parser("alerts", help="alert history: channel, rule, article, state")
    alerts.add_argument("--limit", type=int, default=200)
    alerts.add_argument("--format", choices=FORMATS, default="table")
    alert_actions = alerts.add_subparsers(dest="action", metavar="ACTION")
    retry = alert_actions.add_parser("retry", help="send failed (or the given) alerts again")
    retry.add_argument("ids", nargs="*", metavar="ID")
    retry.add_argument("--failed", action="store_true", help="every dead-lettered alert")
    commands.add_parser("check", help="validate the config; show how each rule was understood")
    extract = commands.add_parser("extract", help="show what the pipeline extracts from a page")
    extract.add_argument("inputs", nargs="+", metavar="URL_OR_FILE")
    extract.add_argument("--format", choices=("text", "json", "ndjson"), default="text")
    test_rule = commands.add_parser("test-rule", help="does a query match? (exit 0 yes, 1 no)")
    test_rule.add_argument("query")
    given = test_rule.add_mutually_exclusive_group(required=True)
    given.add_argument("--url")
    given.add_argument("--file")
    given.add_argument("--text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler",
        "charset_normalizer",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for reported_by_us in ("trafilatura", "htmldate"):  # a page they cannot read is said once, by us
        logging.getLogger(reported_by_us).setLevel(logging.CRITICAL)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # here, so that a reader gone away is caught below, not at exit
        return code
    except BrokenPipeError:
        # The reader stopped early (`monitor search … | head`): end quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except QueryError as error:
        print(f"monitor: query error: {error}\n{error.pointer()}", file=sys.stderr)
        return 2
    except (ConfigError, UsageError, DaemonRunningError) as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 2
    except MonitorError as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "extract":
        return extract_command(args.inputs, args.format)
    if args.command == "test-rule":
        return test_rule_command(args.query, url=args.url, file=args.file, text=args.text)
    path = config_path(args.config)
    settings = load_settings(path)
    if args.command == "check":
        return _check(settings, str(path))
    if args.command == "run":
        return _run(settings, str(path))
    if args.command == "once":
        return _once(settings, str(path), args.source)
    if args.command == "backfill":
        return _backfill(settings, str(path), args)
    if args.command == "sources" and args.source_action == "add":
        return add_command(
            path, settings, args.url, args.name, args.pick, args.allow_private, args.only_print
        )
    if args.command == "sources" and args.source_action == "import":
        return import_command(path, settings, args.file, args.only_print)
    if args.command == "sources" and args.source_action == "export":
        return export_command(settings, args.output)
    archive = SqlArchive(settings.database_url(), settings.story_grouping())
    try:
        if args.command == "search":
            return _search(archive, settings, args)
        if args.command == "sources":
            warning = disk_full_warning(settings.database_url())
            if warning:
                print(f"monitor: warning: {warning}", file=sys.stderr)
            return _sources(archive, settings, args.format)
        if args.action == "retry":
            return _retry_alerts(archive, args.ids, args.failed)
        return _alerts(archive, args.limit, args.format)
    finally:
        archive.close()


def _check(settings: Settings, path: str) -> int:
    from monitor.app import build_routes

    build_routes(settings, path)
    counts = ", ".join(
        counted(len(items), noun)
        for items, noun in (
            (settings.sources, "source"),
            (settings.watch, "rule"),
            (settings.alerts, "alert"),
        )
    )
    print(f"{path}: ok — {counts}")
    for rule in settings.watch:
        print(f"  rule {rule.name!r}: {rule.as_written()}")
        understood = to_text(rule.compile().node)
        if understood != rule.as_written():
            print(f"    read as: {understood}")
    return _check_archive(settings)


def _check_archive(settings: Settings) -> int:
    """The archive, if there is one yet: it opens as ours and SQLite's quick_check passes."""
    url = settings.database_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        print("  archive: none yet (the first poll creates it)")
        return 0
    try:
        archive = SqlArchive(url)
    except ArchiveError as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 2
    try:
        damage = archive.damage()
    except ArchiveError as error:
        damage = [str(error)]
    finally:
        archive.close()
    if damage:
        problems = "\n".join(f"  {line}" for line in damage)
        print(f"monitor: the archive is damaged ({url}):\n{problems}\nrestore a backup", file=sys.stderr)
        return 2
    print("  archive: ok (quick_check)")
    return 0


def _run(settings: Settings, path: str) -> int:
    from monitor.app import build_app
    from monitor.runtime.arenas import limit_malloc_arenas
    from monitor.runtime.daemon_lock import sole_daemon
    from monitor.runtime.scheduler import Daemon

    limit_malloc_arenas()  # before the pass's threads exist

    async def daemon() -> None:
        app = build_app(settings, path)
        try:
            await Daemon(app).run()
        finally:
            await app.aclose()

    url = settings.database_url()
    database = Path(url.removeprefix("sqlite:///")).resolve()  # one lock however the path is spelled
    if url.startswith("sqlite:///"):
        refuse_unless_ours(url)  # before the lock file: nothing is left beside a refused file
    with sole_daemon(database) if url.startswith("sqlite:///") else nullcontext():
        asyncio.run(daemon())
    return 0


def _once(settings: Settings, path: str, names: list[str]) -> int:
    from monitor.app import build_app
    from monitor.runtime.arenas import limit_malloc_arenas

    names = list(known_names(names, [source.name for source in settings.sources], "source"))
    limit_malloc_arenas()  # a pass is the daemon's work: the same threads, the same cap

    async def one_pass() -> tuple[str, int]:
        started = time.monotonic()
        app = build_app(settings, path)
        try:
            reports = await app.poll(names or None)
            sent = await app.dispatcher.dispatch()
        finally:
            await app.aclose()
        failed = sum(1 for report in reports if report.error)
        ours = sum(1 for report in reports if report.status == INTERNAL_ERROR)
        summary = (
            f"once: {counted(len(reports), 'source')} ({len(reports) - failed} ok, {failed} failed), "
            f"{counted(sum(r.entries for r in reports), 'entry', 'entries')}, "
            f"{counted(sum(r.new for r in reports), 'new article')}, "
            f"{sum(r.updated for r in reports)} updated, "
            f"{sum(r.matched for r in reports)} matched, {counted(sent.sent, 'alert')} sent, "
            f"{counted(sent.failed, 'alert send')} failed, in {time.monotonic() - started:.1f}s"
        )
        if ours:
            summary += (
                f"\nonce: {ours} of the failures are a fault of the monitor, not of the source: see the log"
            )
        return summary, ours

    summary, ours = asyncio.run(one_pass())
    print(summary)
    return 1 if ours else 0  # a source's failure is the source's; a fault of ours is unexpected


def _backfill(settings: Settings, path: str, args: argparse.Namespace) -> int:
    from monitor.app import build_app
    from monitor.backfill import backfill

    rules = {rule.name: rule for rule in settings.watch}
    [name] = known_names([args.rule], rules, "watch rule")
    rule = rules[name].compile()
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


def known_names(given: Sequence[str], known: Iterable[str], what: str) -> tuple[str, ...]:
    """The names as configured (matched without regard to case); UsageError, listing the known
    ones, for a name that is not one of them."""
    by_folded = {name.casefold(): name for name in known}
    unknown = [name for name in given if name.casefold() not in by_folded]
    if unknown:
        names = sorted(by_folded.values())
        listing = ", ".join(map(repr, names[:30])) + (
            f" and {len(names) - 30} more" if len(names) > 30 else ""
        )
        raise UsageError(f"no {what} named {', '.join(map(repr, unknown))} (known: {listing or 'none'})")
    return tuple(by_folded[name.casefold()] for name in given)


def _search(archive: SqlArchive, settings: Settings, args: argparse.Namespace) -> int:
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


def _sources(archive: SqlArchive, settings: Settings, fmt: str) -> int:
    """Each configured source's health, in the config's order; one not polled yet shows as new."""
    states = {state.name: state for state in archive.source_states()}
    records = [_health(source.name, source.url, states.get(source.name)) for source in settings.sources]
    columns = ("name", "status", "last_fetch", "consecutive_errors", "next_due", "last_error")
    print(render(records, columns, fmt))
    return 0


def _health(name: str, url: str, state: SourceState | None) -> dict[str, Any]:
    if state is None:  # added to the config since the daemon started (it reads the config once)
        status = "new: not polled yet"
    elif state.last_fetch is None:
        status = "never fetched"
    elif state.last_status == "gone":
        status = "gone: polling stopped"
    elif state.last_status == INTERNAL_ERROR:
        status = f"INTERNAL ERROR (the monitor's fault) since {iso(state.failing_since)}"
    elif state.last_status == ARCHIVE_ERROR:
        status = f"ARCHIVE ERROR (not the source's) since {iso(state.failing_since)}"
    elif state.consecutive_errors:
        status = f"failing since {iso(state.failing_since)}"
    else:
        status = state.last_status or "ok"
    return {
        "name": name,
        "url": state.url if state else url,
        "moved_to": state.moved_to if state else None,
        "status": status,
        "interval": format_duration(state.interval) if state and state.interval else None,
        "last_fetch": iso(state.last_fetch) if state else None,
        "consecutive_errors": state.consecutive_errors if state else 0,
        "next_due": iso(state.next_due) if state else None,
        "last_error": state.last_error if state else None,
    }


def _retry_alerts(archive: SqlArchive, ids: list[str], failed: bool) -> int:
    if not ids and not failed:
        raise UsageError("give alert ids (see monitor alerts --format json) or --failed")
    missing = archive.missing_alerts(ids)
    if missing:
        listed = ", ".join(map(repr, missing))
        raise UsageError(f"no alert with the id {listed} (see monitor alerts --format json)")
    count = archive.retry_alerts(ids, failed, datetime.now(UTC))
    print(f"{counted(count, 'alert')} queued again; the daemon or the next monitor once sends them")
    return 0


def _alerts(archive: SqlArchive, limit: int, fmt: str) -> int:
    records: list[dict[str, Any]] = []
    for row in archive.alerts(limit):
        found = archive.article(row.article_id)
        records.append(
            {
                "id": row.id,
                "created": iso(row.created),
                "alert": row.alert,
                "channel": row.channel,
                "rules": list(row.rules),
                "article": found.article.title if found else row.article_id,
                "url": found.article.url if found else None,
                "state": row.state.value,
                "attempts": row.attempts,
                # When a pending row is tried again, or a held one released (quiet hours, throttle).
                "next_attempt": iso(row.next_attempt)
                if row.state in (AlertState.PENDING, AlertState.HELD)
                else None,
                "last_error": row.last_error,
            }
        )
    columns = (
        "id",
        "created",
        "alert",
        "rules",
        "article",
        "state",
        "attempts",
        "next_attempt",
        "last_error",
    )
    print(render(records, columns, fmt))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
