"""The command line: arguments, logging, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.cli.output import FORMATS
from monitor.config.loading import config_path, load_settings
from monitor.config.settings import Settings
from monitor.errors import ConfigError, DaemonRunningError, MonitorError, QueryError, UsageError
from monitor.models import AlertState

EPILOG = """examples:
  monitor check
  monitor once --source "Focus Taiwan"
  monitor search '"Iron Dome" AND (Japan OR Taiwan)' --since 7d
  monitor search 'T-Dome OR 台灣之盾' --matched --format json
  monitor test-rule 'laser NEAR/5 weapon*' --text "Japan studies laser weapons"
  monitor backfill "Iron Dome" --since 30d --alert
"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose options of one value refuse a second (_Once); its commands'
    parsers are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, _Once)
        self.register("action", "store", _Once)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    search.add_argument("query", nargs="?", help="the rule language; '' for every article the options keep")
    search.add_argument("--since", help="published since: 7d, 24h or a date (2026-01-06)")
    search.add_argument(
        "--fetched-since",
        help="arrived in the archive since: 7d, 24h or a date (old articles fetched late)",
    )
    search.add_argument("--until", help="a date (its whole day taken in) or a moment (2026-01-31T12:00)")
    search.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="a source's articles (repeat for several)",
    )
    search.add_argument(
        "--rule", action="append", default=[], metavar="NAME", help="a rule's matches (repeat for several)"
    )
    search.add_argument("--matched", action="store_true", help="only articles a rule matched")
    search.add_argument("--lang", help="language code, e.g. en, zh, ja")
    search.add_argument("--limit", type=int, default=50, help="most articles shown (default 50)")
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
    states = [state.value for state in AlertState]
    alerts.add_argument("--state", choices=states, help="only the alerts in this state")
    alerts.add_argument("--format", choices=FORMATS, default="table")
    alert_actions = alerts.add_subparsers(dest="action", metavar="ACTION")
    retry = alert_actions.add_parser("retry", help="send failed (or the given) alerts again")
    retry.add_argument("ids", nargs="*", metavar="ID")
    retry.add_argument("--failed", action="store_true", help="every dead-lettered alert")
    archive = commands.add_parser("archive", help="the archive's size and content; back it up; copy it")
    archive_actions = archive.add_subparsers(dest="archive_action", metavar="ACTION", required=True)
    copy = archive_actions.add_parser(
        "copy", help="copy the configured archive into a PostgreSQL one (resumes where it stopped)"
    )
    copy.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/database")
    stats = archive_actions.add_parser("stats", help="the archive's size and content")
    stats.add_argument("--format", choices=("table", "json"), default="table")
    backup = archive_actions.add_parser(
        "backup", help="a consistent copy while daemons write (SQLite: a file; PostgreSQL: pg_dump)"
    )
    backup.add_argument("path", type=Path, metavar="PATH", help="a new file")
    serve = commands.add_parser("serve", help="serve the archive over HTTP: the API, /healthz")
    serve.add_argument("--listen", metavar="HOST:PORT", help="default: serve.listen, or 127.0.0.1:8080")
    commands.add_parser("check", help="validate the config; show how each rule was understood")
    extract = commands.add_parser("extract", help="show what the pipeline extracts from a page")
    extract.add_argument("inputs", nargs="+", metavar="URL_OR_FILE")
    extract.add_argument("--format", choices=("text", "json", "ndjson"), default="text")
    test_rule = commands.add_parser("test-rule", help="does a query match? (exit 0 yes, 1 no)")
    test_rule.add_argument("query", nargs="?")
    given = test_rule.add_mutually_exclusive_group(required=True)
    given.add_argument("--url")
    given.add_argument("--file")
    given.add_argument("--text")
    return parser


class _Once(argparse.Action):
    """An option of one value: given twice, which was meant cannot be told (the last would win)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, f"_given_{self.dest}", False):
            either = " (for either language, lang:(en OR zh) in the query)" if self.dest == "lang" else ""
            parser.error(f"{option_string} is given twice: give it once{either}")
        setattr(namespace, f"_given_{self.dest}", True)
        setattr(namespace, self.dest, values)


_GENERAL_OPTIONS = {"-c", "--config", "-v", "--verbose"}


def _may_be_a_query(word: str) -> bool:
    """-sport is a query (NOT sport); --sport, a mistyped option, and -c, one misplaced, are not."""
    return word.startswith("-") and not word.startswith("--") and word not in _GENERAL_OPTIONS


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, parsed. A query may begin with a dash (`-sport` is NOT sport), which
    argparse takes for an option it does not know: a search's or test-rule's one such word, when
    it has no query otherwise, is its query."""
    parser = _parser()
    args, extras = parser.parse_known_args(argv)
    asks_a_query = args.command in ("search", "test-rule")
    if asks_a_query and args.query is None and len(extras) == 1 and _may_be_a_query(extras[0]):
        args.query, extras = extras[0], []
    if extras:
        if set(extras) & _GENERAL_OPTIONS:
            hint = f" (-c, --config and -v go before the command: monitor -c FILE {args.command} ...)"
        elif asks_a_query and not any(extra.startswith("--") for extra in extras):
            hint = " (a query of several words goes in one pair of quotes)"
        else:
            hint = ""
        parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
    if asks_a_query and args.query is None:
        parser.error(f"{args.command}: the following arguments are required: query")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler",
        "alembic.runtime.plugins",  # a line per plugin as Alembic loads them
        "apprise",  # two INFO lines a send; the monitor says what failed, and its warnings stay
        "charset_normalizer",
        "pymorphy3",  # two INFO lines as it loads its dictionary, for any Russian term
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


# Each command imports its modules once chosen: `monitor search` and `monitor alerts` do not
# load the daemon's fetchers and extractors, the web server, or the alert channels' clients.
def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "extract":
        from monitor.cli.probe import extract_command

        return extract_command(args.inputs, args.format)
    if args.command == "test-rule":
        from monitor.cli.probe import test_rule_command

        return test_rule_command(args.query, url=args.url, file=args.file, text=args.text)
    path = config_path(args.config)
    settings = load_settings(path)
    if args.command == "check":
        from monitor.cli.check import check_command

        return check_command(settings, str(path))
    if args.command in ("run", "once", "serve"):
        from monitor.cli import daemon

        if args.command == "serve":
            return daemon.serve_command(settings, args.listen)
        if args.command == "once":
            return daemon.once_command(settings, str(path), args.source)
        return daemon.run_command(settings, str(path))
    if args.command == "backfill":
        from monitor.cli.search import backfill_command

        return backfill_command(settings, str(path), args)
    if args.command == "sources" and args.source_action is not None:
        from monitor.cli import sources

        if args.source_action == "add":
            return sources.add_command(
                path, settings, args.url, args.name, args.pick, args.allow_private, args.only_print
            )
        if args.source_action == "import":
            return sources.import_command(path, settings, args.file, args.only_print)
        return sources.export_command(settings, args.output)
    if args.command == "archive":
        from monitor.cli import archive

        if args.archive_action == "stats":
            return archive.archive_stats_command(settings, args.format)
        if args.archive_action == "backup":
            return archive.archive_backup_command(settings, args.path)
        return archive.archive_copy_command(settings, args.to)
    return _reading(args, settings)


def _reading(args: argparse.Namespace, settings: Settings) -> int:
    """The commands that read the archive: search, sources (health), alerts (and retry)."""
    from monitor.archive.backends import reading_archive

    with reading_archive(settings, _warn) as archive:
        if args.command == "search":
            from monitor.cli.search import search_command

            return search_command(archive, settings, args)
        if args.command == "sources":
            from monitor.archive.space import disk_full_warning
            from monitor.cli.status import sources_command

            warning = disk_full_warning(settings.database_url())
            if warning:
                _warn(warning)
            return sources_command(archive, settings, args.format)
        from monitor.cli.alerts import alerts_command, retry_alerts_command

        if args.action == "retry":
            return retry_alerts_command(archive, args.ids, args.failed)
        return alerts_command(archive, args.limit, args.format, args.state)


def _warn(message: str) -> None:
    print(f"monitor: warning: {message}", file=sys.stderr)
