"""`monitor sources add | import | export`: growing and sharing the list of sources."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from monitor.config.editing import add_sources, source_lines
from monitor.config.opml import Subscription, read_opml, write_opml
from monitor.config.settings import Settings, SourceSettings, one_line_name
from monitor.errors import ConfigEditError, MonitorError
from monitor.ingest.fetch.client import Fetcher
from monitor.ingest.pages.discovery import Discovery, discover
from monitor.ingest.parse.normalize import canonical_url
from monitor.names import name_key
from monitor.net.egress import EgressPolicy
from monitor.phrases import counted
from monitor.runtime import event_loop


def add_command(
    path: Path,
    settings: Settings,
    url: str,
    name: str | None,
    pick: int,
    allow_private: bool,
    only_print: bool,
) -> int:
    if not re.match(r"https?://[^/\s]+", url, re.IGNORECASE):
        print(f"monitor: {url!r} is not an http(s) URL", file=sys.stderr)
        return 2
    try:
        one_line_name(name or "")
    except ValueError as error:  # said before any fetch, not as a config edit refused after
        print(f"monitor: --name: {error}", file=sys.stderr)
        return 2
    try:
        discovery = event_loop.run(_discover(settings, url, allow_private))
    except MonitorError as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 2
    found = discovery.feeds
    if not found and discovery.refused:
        print(
            f"monitor: the feeds {url} announces are on non-public addresses, which the egress gate "
            "refuses:\n  " + "\n  ".join(discovery.refused) + "\nadd --allow-private if you trust them",
            file=sys.stderr,
        )
        return 2
    if not found:
        print(f"monitor: no feed found at {url} (announced, linked or at a common path)", file=sys.stderr)
        return 2
    for number, feed in enumerate(found, 1):
        entries = counted(feed.entries, "entry", "entries")
        print(f"{number}. {feed.url}  {feed.title or '(untitled)'}  [{feed.how}, {entries}]")
    if not 1 <= pick <= len(found):
        print(f"monitor: --pick {pick}: choose 1 to {len(found)}", file=sys.stderr)
        return 2
    chosen = found[pick - 1]
    configured = {canonical_url(source.url): source.name for source in settings.sources}
    if canonical_url(chosen.url) in configured:
        print(
            f"{chosen.url} is already configured as {configured[canonical_url(chosen.url)]!r}: nothing added"
        )
        return 0
    title = " ".join(chosen.title.split())  # a name is one line (settings.one_line_name)
    source: dict[str, Any] = {"name": name or title or urlsplit(chosen.url).hostname or chosen.url}
    source["url"] = chosen.url
    if allow_private:
        source["allow_private"] = True
    return _add(path, settings, [source], [f"added from {url}"], only_print)


async def _discover(settings: Settings, url: str, allow_private: bool) -> Discovery:
    fetch = settings.fetch
    fetcher = Fetcher(
        fetch.user_agent, fetch.timeout, fetch.max_bytes, fetch.concurrency, fetch.per_host, fetch.host_gap
    )
    try:
        return await discover(fetcher, url, EgressPolicy.for_source(url, allow_private))
    finally:
        await fetcher.close()


def import_command(path: Path, settings: Settings, opml_file: Path, only_print: bool) -> int:
    try:
        subscriptions = read_opml(opml_file.read_bytes(), str(opml_file))
    except (OSError, MonitorError) as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 2
    known_urls = {canonical_url(source.url) for source in settings.sources}
    names = {name_key(source.name) for source in settings.sources}  # as the config compares them
    additions: list[dict[str, Any]] = []
    comments: list[str] = []
    refused: list[str] = []
    for item in subscriptions:
        entry: dict[str, Any] = {"name": item.name, "url": item.url}
        if item.kind != "feed":
            entry["kind"] = item.kind
        problem = _source_problem(entry)
        if problem is not None:
            refused.append(f"  {item.name!r} ({item.url}): {problem}")
            continue
        if canonical_url(item.url) in known_urls:
            continue
        known_urls.add(canonical_url(item.url))
        entry["name"] = _unique(item.name, names)
        names.add(name_key(entry["name"]))
        additions.append(entry)
        comments.append(f"OPML folder: {item.folder}" if item.folder else "")
    skipped = len(subscriptions) - len(additions) - len(refused)
    print(f"{counted(len(subscriptions), 'outline')} with a URL in {opml_file}: ", end="")
    print(f"{len(additions)} new, {skipped} already configured, {len(refused)} refused")
    if refused:
        print("monitor: outlines refused (the others are imported):\n" + "\n".join(refused), file=sys.stderr)
    code = _add(path, settings, additions, comments, only_print) if additions else 0
    return 2 if refused else code


def _source_problem(entry: dict[str, Any]) -> str | None:
    """Why the config would refuse this source, or None."""
    try:
        SourceSettings.model_validate(entry)
    except ValidationError as error:
        return "; ".join(str(problem["msg"]).removeprefix("Value error, ") for problem in error.errors())
    return None


def export_command(settings: Settings, output: Path | None) -> int:
    subscriptions = [Subscription(source.name, source.url, source.kind) for source in settings.sources]
    data = write_opml(subscriptions, "monitor sources")
    if output is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        try:
            output.write_bytes(data)
        except OSError as error:
            print(f"monitor: cannot write {output}: {error.strerror or error}", file=sys.stderr)
            return 2
        print(f"{counted(len(subscriptions), 'source')} written to {output}")
    return 0


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name (2)`, `name (3)`... the first not in `taken` (name_key of each)."""
    candidate, number = name, 2
    while name_key(candidate) in taken:
        candidate, number = f"{name} ({number})", number + 1
    return candidate


def _add(
    path: Path, settings: Settings, additions: list[dict[str, Any]], comments: list[str], only_print: bool
) -> int:
    taken = {name_key(source.name): source.name for source in settings.sources}
    clash = [taken[name_key(item["name"])] for item in additions if name_key(item["name"]) in taken]
    if clash:
        print(
            f"monitor: a source is already named {clash[0]!r} (names are compared ignoring case): "
            "choose another with --name",
            file=sys.stderr,
        )
        return 2
    if not only_print:
        try:
            add_sources(path, additions, comments)
        except ConfigEditError as error:
            print(
                f"monitor: not edited in place: {error}\nAdd these lines under `sources:`:", file=sys.stderr
            )
        else:
            print(f"added {counted(len(additions), 'source')} to {path}")
            print("a running daemon reads the config once: restart it (monitor run) to poll them")
            return 0
    print("\n".join(source_lines(additions, comments)))
    return 0
