"""What a search's prefixes cost before it runs: the turns it takes (searching.py), one for
each prefix the full-text index gathers in memory at once."""

from __future__ import annotations

from monitor.archive.search import fts_query, fts_refusal
from monitor.config.settings import Settings
from monitor.errors import MonitorError
from monitor.queries import query_of
from monitor.rules import Node


def prefixes_gathered(query: Node | None) -> int:
    """The prefixes the index gathers for a search of the query, each in memory at once: a
    Hebrew prefix is a phrase per prefixed form; those of what a NOT refuses too (on SQLite the
    index leaves their matches out: `NOT lo*` gathers lo*'s; PostgreSQL verifies them instead,
    and such a search waits for turns it could do without); none under title: or NEAR."""
    if query is None:
        return 0
    gathered = (fts_query(query) or "") + (fts_refusal(query) or "")
    return gathered.count('"*')  # a prefix phrase: "ka"*


def prefixes_asked(text: str) -> int:
    """prefixes_gathered() of a query as typed; 0 for one that does not parse (its search says
    why)."""
    if "*" not in text:  # most queries need no parse here
        return 0
    try:
        return prefixes_gathered(query_of(text))
    except MonitorError:
        return 0


def rule_prefixes(settings: Settings, name: str) -> int:
    """prefixes_gathered() of a watch rule's query; 0 for a name no rule has (its page says so)."""
    from monitor.app import compile_rule

    for rule in settings.watch:
        if rule.name == name:
            return prefixes_gathered(compile_rule(rule).node)
    return 0
