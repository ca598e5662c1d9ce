"""How many articles a search's index query matches, estimated in the process from the statistics
PostgreSQL keeps of the index (pg_stats: its most common lexemes and the share of articles
holding each), the way its planner estimates them (ts_selfuncs.c):
- a lexeme among the most common: its share; any other: half the least common's share, at most
  0.5% (the planner's default);
- a prefix: with fewer than 100 common lexemes known, 2%; else the common lexemes it begins,
  combined as alternatives, plus the rest of the articles' share in proportion to how many of
  the common lexemes it begins; at least an other lexeme's share;
- AND and phrase: the product of the parts' shares; OR: a + b - a * b.

Search needs the estimate to choose its plan (pg_search.py). Asking the planner (EXPLAIN) cost
a round trip per search, longer than the search itself for a rare phrase; the statistics change
only when the table is analyzed, so they are read once in a while and kept (pg_archive.py).
The index query is read back from its literal (pg_text.py writes it), so no rule of what the
index can answer is written twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg

DEFAULT_SHARE = 0.005  # of a lexeme, without statistics (PostgreSQL's DEFAULT_TS_MATCH_SEL)
PREFIX_SHARE = 4 * DEFAULT_SHARE  # of a prefix, with too few statistics to go by
FEWEST_FOR_PREFIXES = 100  # common lexemes known before a prefix's share is estimated from them

_STATISTICS = (
    "SELECT c.reltuples, s.most_common_elems::text::text[], s.most_common_elem_freqs "
    "FROM pg_class AS c LEFT JOIN pg_stats AS s ON s.schemaname = current_schema() "
    "AND s.tablename = 'articles' AND s.attname = 'search' "
    "WHERE c.oid = 'articles'::regclass"
)
_TOKEN = re.compile(r"\s*(?:'((?:[^'\\]|''|\\.)*)'(:\*)?|(<->|[&|()]))")


@dataclass(frozen=True)
class IndexStatistics:
    """What the planner knows of the articles' index when it last analyzed the table."""

    total: float = 1.0  # articles
    shares: dict[str, float] = field(default_factory=dict)  # of articles holding each common lexeme
    other_share: float = DEFAULT_SHARE  # of articles holding any other lexeme

    def matches(self, index_query: str) -> float:
        """About how many articles the tsquery literal matches (at least one)."""
        return max(self._share(_Parser(index_query).query()) * self.total, 1.0)

    def _share(self, part: _Part) -> float:
        if isinstance(part, _Lexeme):
            return self._lexeme_share(part.text, part.prefix)
        share = 1.0 if part.operator in ("&", "<->") else 0.0
        for each in part.parts:
            of_each = self._share(each)
            share = share * of_each if part.operator in ("&", "<->") else share + of_each - share * of_each
        return share

    def _lexeme_share(self, lexeme: str, prefix: bool) -> float:
        if not prefix:
            return self.shares.get(lexeme, self.other_share)
        if len(self.shares) < FEWEST_FOR_PREFIXES:
            return PREFIX_SHARE
        begun = every = 0.0
        count = 0
        for common, share in self.shares.items():
            if common.startswith(lexeme):
                begun += share - begun * share
                count += 1
            every += share - every * share
        share = min(begun, 1.0) + (1.0 - min(every, 1.0)) * count / len(self.shares)
        return max(self.other_share, share)


def index_statistics(cursor: psycopg.Cursor[Any]) -> IndexStatistics:
    """The archive's size and its index's statistics, as the planner last gathered them."""
    [[total, lexemes, shares]] = cursor.execute(_STATISTICS).fetchall()
    total = max(float(total), 1.0)  # -1: never analyzed
    # The shares of the lexemes, then the least and the greatest share (pg_stats' documentation).
    if not lexemes or not shares or len(shares) < len(lexemes) + 2:
        return IndexStatistics(total)
    least = shares[len(lexemes)]
    return IndexStatistics(total, dict(zip(lexemes, shares, strict=False)), min(DEFAULT_SHARE, least / 2))


class _Lexeme(NamedTuple):
    text: str
    prefix: bool


class _Joined(NamedTuple):
    operator: str  # "<->", "&" or "|"
    parts: list[_Part]


_Part = _Lexeme | _Joined


_TIGHTER = {"|": "&", "&": "<->"}  # the operator binding tighter than each


class _Parser:
    """A tsquery literal as pg_text.py writes it: quoted lexemes (':*' for a prefix), joined by
    <-> (binding tightest), & and then |, in parentheses."""

    def __init__(self, literal: str) -> None:
        self.tokens: list[tuple[str | None, str | None, str | None]] = []
        position, literal = 0, literal.rstrip()
        while position < len(literal):
            found = _TOKEN.match(literal, position)
            if not found:
                raise ValueError(f"not an index query at {position}: {literal!r}")
            lexeme, prefix, operator = found.groups()
            self.tokens.append((lexeme, prefix, operator))
            position = found.end()
        self.next = 0

    def query(self) -> _Part:
        part = self._joined("|")
        if self.next != len(self.tokens):
            raise ValueError("an index query with more after its end")
        return part

    def _joined(self, operator: str) -> _Part:
        tighter = _TIGHTER.get(operator)
        parts = [self._joined(tighter) if tighter else self._operand()]
        while self._peek() == operator:
            self.next += 1
            parts.append(self._joined(tighter) if tighter else self._operand())
        return parts[0] if len(parts) == 1 else _Joined(operator, parts)

    def _peek(self) -> str | None:
        return self.tokens[self.next][2] if self.next < len(self.tokens) else None

    def _operand(self) -> _Part:
        if self.next >= len(self.tokens):
            raise ValueError("an index query ends too early")
        lexeme, prefix, operator = self.tokens[self.next]
        self.next += 1
        if operator == "(":
            part = self._joined("|")
            if self._peek() != ")":
                raise ValueError("an index query with an unclosed parenthesis")
            self.next += 1
            return part
        if lexeme is None:
            raise ValueError(f"an index query with {operator!r} where a lexeme belongs")
        return _Lexeme(_unquoted(lexeme), prefix is not None)


def _unquoted(quoted: str) -> str:
    return re.sub(r"''|\\(.)", lambda found: found.group(1) or "'", quoted)
