"""`monitor check`: the config and the archive, validated before a daemon depends on them."""

from __future__ import annotations

import sys
from pathlib import Path

from monitor.archive.backends import open_archive
from monitor.config.settings import Settings
from monitor.errors import ArchiveError
from monitor.phrases import counted
from monitor.rules import to_text
from monitor.rules.parse import spellings_shown


def check_command(settings: Settings, path: str) -> int:
    from monitor.app import build_routes, compile_rule

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
        node = compile_rule(rule).node
        understood = to_text(node)
        if understood != rule.as_written():
            print(f"    read as: {understood}")
        if spellings := spellings_shown(node):
            print(f"    also finds: {', '.join(spellings)}")
    return _check_archive(settings)


def _check_archive(settings: Settings) -> int:
    """The archive, if there is one yet: it opens as ours and SQLite's quick_check passes."""
    url = settings.database_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        print("  archive: none yet (the first poll creates it)")
        return 0
    try:
        archive = open_archive(settings)
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
    print(f"  archive: ok ({'quick_check' if url.startswith('sqlite:') else 'reachable'})")
    return 0
