"""The one way tests write a monitor config: each section a keyword, the archive and the watch
rules shared by default, everything else as the test gives it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ARCHIVE = "sqlite:///data/monitor.db"
# Loopback servers answer at once and are one host: no politeness gap, and a short deadline so
# that a hanging route fails a poll quickly.
LOOPBACK_FETCH = {"timeout": "2s", "host_gap": "0s"}
RULES: list[dict[str, Any]] = [
    {"name": "Iron Dome", "terms": ["Iron Dome", "כיפת ברזל", "铁穹", "アイアンドーム"]},
    {"name": "Taiwan Shield", "query": '"Taiwan Shield" OR "T-Dome" OR 台灣之盾'},
    {"name": "Japan documents", "terms": ["安保3文書", "国家防衛戦略"]},
    {
        "name": "Japan-Israel laser",
        "query": '(Japan OR Koizumi) AND laser NEAR/10 (weapon* OR "Iron Beam") NOT sport',
    },
    {"name": "Dome word", "query": "dome -stadium"},
]


def monitor_config(
    folder: Path,
    *,
    sources: Sequence[dict[str, Any]] = (),
    watch: Sequence[dict[str, Any]] = RULES,
    alerts: Sequence[dict[str, Any]] = (),
    storage: str | None = ARCHIVE,
    name: str = "monitor.yaml",
    **sections: Any,
) -> Path:
    """Write `folder/name`: the sources, rules and alerts given, the archive at `storage` (None:
    the config's default), and any other section (fetch, defaults, stories, ...) as given."""
    data: dict[str, Any] = {}
    if storage is not None:
        data["storage"] = {"url": storage}
    data |= sections
    data |= {"sources": list(sources), "watch": list(watch)}
    if alerts:
        data["alerts"] = list(alerts)
    return write_config(folder / name, data)


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """The config as YAML, as a user writes it (for tests that edit one they read back)."""
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
