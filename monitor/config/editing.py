"""Adding sources to the config file in place, keeping every comment and every other byte.

A YAML round-trip library re-emits the whole document (and reflows long lists), so the new
items are inserted as text, one flow-style line each, after the last item of `sources:`. The
result is then read back: it must hold exactly the old document plus the new sources, and be a
valid config; otherwise nothing is written and the caller prints the lines to paste.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from monitor.config.loading import LITERAL_REFERENCE, load_settings
from monitor.config.safe_yaml import load_yaml
from monitor.errors import ConfigEditError, ConfigError


def source_lines(additions: list[dict[str, Any]], comments: list[str], indent: str = "  ") -> list[str]:
    """One `- {name: …, url: …}` line per source, with its comment, at the given indentation."""
    lines = []
    for item, comment in zip(additions, comments, strict=True):
        flow = yaml.safe_dump(
            _as_written(item), default_flow_style=True, allow_unicode=True, sort_keys=False, width=10_000
        )
        lines.append(f"{indent}- {flow.strip()}" + (f"  # {comment}" if comment else ""))
    return lines


def _as_written(source: dict[str, Any]) -> dict[str, Any]:
    """A source's values as the config reads them back unchanged: a feed's title `Price ${X}`
    must not read the environment."""
    return {
        key: value.replace("${", LITERAL_REFERENCE) if isinstance(value, str) else value
        for key, value in source.items()
    }


def add_sources(path: Path, additions: list[dict[str, Any]], comments: list[str]) -> None:
    """Append sources to the config file; ConfigEditError (nothing written) when unsafe. Edits
    of one file wait for each other: each reads what the one before it wrote."""
    target = path.resolve()  # a symlinked config: edit the file it points at, keep the link
    with _editing(target):
        _add_sources(target, additions, comments)


@contextmanager
def _editing(path: Path) -> Iterator[None]:
    """Hold the config's edit lock (an flock on a file beside it: the config itself is
    replaced, not rewritten); clear the temporary files of an editor that was killed."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)


def _add_sources(path: Path, additions: list[dict[str, Any]], comments: list[str]) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        document = load_yaml(text) or {}
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        raise ConfigEditError(f"{path}: not readable YAML: {error}") from None
    if not isinstance(document, dict):
        raise ConfigEditError(f"{path}: the file is not a mapping of keys")
    edited = _inserted(text, root, additions, comments)
    expected = {**document, "sources": [*(document.get("sources") or []), *map(_as_written, additions)]}
    if load_yaml(edited) != expected:
        raise ConfigEditError(f"{path}: the sources list has a layout this editor does not change safely")
    _replace_checked(path, edited)


def _inserted(text: str, root: yaml.Node | None, additions: list[dict[str, Any]], comments: list[str]) -> str:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    sources = _sources_node(root)
    if sources is None:
        return (
            "".join(lines) + "sources:\n" + "".join(f"{line}\n" for line in source_lines(additions, comments))
        )
    if not isinstance(sources, yaml.SequenceNode) or sources.flow_style or not sources.value:
        raise ConfigEditError("`sources:` is empty or written inline; add the lines below by hand")
    first, last = sources.value[0], sources.value[-1]
    dash_line = lines[first.start_mark.line]
    dash = dash_line.index("-", 0, first.start_mark.column)
    after = last.end_mark.line if last.end_mark.column == 0 else last.end_mark.line + 1
    # A block item ends where the next key starts: leave the comments before that key to it.
    while after - 1 > last.start_mark.line and lines[after - 1].strip()[:1] in ("", "#"):
        after -= 1
    new = [f"{line}\n" for line in source_lines(additions, comments, dash_line[:dash])]
    return "".join(lines[:after] + new + lines[after:])


def _sources_node(root: yaml.Node | None) -> yaml.Node | None:
    if not isinstance(root, yaml.MappingNode):
        return None
    return next((value for key, value in root.value if getattr(key, "value", None) == "sources"), None)


def _replace_checked(path: Path, edited: str) -> None:
    """Write through a temporary file beside the config, validated first, then renamed."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(edited)
        try:
            load_settings(temporary)
        except ConfigError as error:
            raise ConfigEditError(f"the config would not be valid: {'; '.join(error.problems)}") from None
        temporary.chmod(path.stat().st_mode & 0o7777)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
