"""Counts of what the rules matched, on SQL, SQLite and PostgreSQL alike: how many articles each
rule matched since given moments, and mentions per day (by rule, and by source or language).
An article counts once for a rule however many of its terms were hit.

The counts of recent weeks may read the recent articles first, through the index of
publication dates, in a materialized CTE: left to itself SQLite walks the whole of `hits` or
`articles` in the order of its GROUP BY index (3 s for the sources' activity at a million
articles, of which 9% recent; 0.1 s this way)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    distinct,
    func,
    select,
    values,
)

from monitor.archive import Mentions
from monitor.archive.connections import Transactions, operation
from monitor.archive.rule_names import RuleSpellings
from monitor.archive.tables import alerts, articles, hits, sources
from monitor.names import name_key

NAMES_A_STATEMENT = 5000


class SqlStats:
    def __init__(self, db: Transactions, spellings: RuleSpellings) -> None:
        self.db = db
        self.spellings = spellings
        self._day = _day_sqlite if db.engine.dialect.name == "sqlite" else _day_postgresql

    @operation("counting the rules' matches")
    def rule_matches(
        self, rules: Sequence[str], since: Sequence[datetime], until: datetime
    ) -> dict[str, list[int]]:
        """Per rule of `rules` that matched any (under any spelling of its name), how many
        articles published since each moment (and not after `until`) it matched."""
        if not since or not rules:
            return {}
        earliest = min(since)
        with self.db.reading() as connection:
            # Two ways, each costing what it reads: the recent articles, joined to their hits;
            # or every hit, joined to its article. A young archive, or broad rules, have fewer
            # recent articles than hits; a mature one whose rules match one article in a
            # hundred, with 30 days of unmatched ones kept (retention), far fewer hits. Both
            # counts below are index-only.
            recent_count = connection.execute(
                select(func.count()).select_from(articles).where(_published_within(earliest, until))
            ).scalar_one()
            hit_count = connection.execute(select(func.count()).select_from(hits)).scalar_one()
            if recent_count < hit_count:
                joined = _recent(articles.c.id, articles.c.published, since=earliest, until=until)
                source = select().select_from(joined).join(hits, hits.c.article_id == joined.c.id)
                published = joined.c.published
            else:
                source = select().select_from(hits).join(articles, articles.c.id == hits.c.article_id)
                source = source.where(_published_within(earliest, until))
                published = articles.c.published
            counts = [
                func.count(distinct(case((published >= moment, hits.c.article_id)))) for moment in since
            ]
            # Every rule's hits are counted: a spelling stored since the names were read is
            # known by its key, and its second line has them read again.
            asked = {name_key(name): name for name in rules}
            for _ in range(2):
                rule = _as_asked(self.spellings.merged(rules))
                rows = [(asked.get(name_key(name), name), numbers) for name, *numbers in connection.execute(
                    source.add_columns(rule, *counts).group_by(rule)
                )]  # fmt: skip
                if not self.spellings.stale([name for name, _ in rows]):
                    break
        found = {name: list(numbers) for name, numbers in rows}
        return {name: found[name] for name in rules if name in found}

    @operation("counting alerts")
    def alert_states(self) -> dict[str, int]:
        """How many alert rows are in each state (pending, held, sent, failed)."""
        statement = select(alerts.c.state, func.count()).group_by(alerts.c.state)
        with self.db.reading() as connection:
            return {state: int(count) for state, count in connection.execute(statement)}

    @operation("counting failing sources")
    def failing_sources(self, names: Sequence[str]) -> int:
        """How many of the sources of `names` failed their last poll."""
        failing = 0
        with self.db.reading() as connection:
            for start in range(0, len(names), NAMES_A_STATEMENT):
                chosen = list(names[start : start + NAMES_A_STATEMENT])
                statement = select(func.count()).where(
                    sources.c.name.in_(chosen), sources.c.consecutive_errors > 0
                )
                failing += connection.execute(statement).scalar_one()
        return failing

    @operation("reading the sources' activity")
    def source_activity(
        self, since: datetime, until: datetime, names: Sequence[str]
    ) -> dict[str, tuple[datetime, int]]:
        """Per source of `names` with any article: when its newest article arrived, and how many
        of its articles were published since `since`."""
        if not names:
            return {}
        recent = _recent(articles.c.source, since=since, until=until)
        counted = select(recent.c.source, func.count()).group_by(recent.c.source)
        arrived: dict[str, datetime | None] = {}
        with self.db.reading() as connection:
            # The names are bound: a few thousand a statement (PostgreSQL takes 65,535 at most).
            for start in range(0, len(names), NAMES_A_STATEMENT):
                chosen = names[start : start + NAMES_A_STATEMENT]
                arrived.update((name, fetched) for name, fetched in connection.execute(_newest_of(chosen)))
            counts = {source: int(count) for source, count in connection.execute(counted)}
        return {
            name: (fetched, counts.get(name, 0)) for name, fetched in arrived.items() if fetched is not None
        }

    @operation("counting mentions")
    def mentions(
        self,
        rules: Sequence[str],
        since: datetime,
        until: datetime,
        by: str | None,
        most_lines: int | None = None,
    ) -> list[Mentions]:
        """Articles each rule matched per day of publication in [since, until), by source or
        language when `by` names one; days without any are left out. With `most_lines`, stops
        reading once more (rule, key) pairs than that are found (Archive's Stats)."""
        day = self._day(articles.c.published)
        key: ColumnElement[Any] | None = {"source": articles.c.source, "language": articles.c.language}.get(
            by or ""
        )
        for _ in range(2):
            found = self._mentions(rules, day, key, since, until, most_lines)
            if not self.spellings.stale([(each.day, each.rule, each.key) for each in found]):
                break
        return sorted(found, key=lambda mention: (mention.day, mention.rule, mention.key or ""))

    def _mentions(
        self,
        rules: Sequence[str],
        day: ColumnElement[Any],
        key: ColumnElement[Any] | None,
        since: datetime,
        until: datetime,
        most_lines: int | None,
    ) -> list[Mentions]:
        spelled = self.spellings.standing_for(rules)
        columns = [
            day.label("day"),
            _as_asked(self.spellings.merged(rules)),
            *([key] if key is not None else []),
        ]
        statement = (
            select(*columns, func.count(distinct(hits.c.article_id)))
            .join(articles, articles.c.id == hits.c.article_id)
            .where(
                and_(hits.c.rule.in_(spelled), articles.c.published >= since, articles.c.published < until)
            )
            .group_by(*columns)
        )
        found = []
        lines: set[tuple[str, Any]] = set()
        with self.db.reading() as connection:
            for row in connection.execute(statement):
                when, stored, *rest = row
                rule = spelled.get(stored, stored)
                grouped, count = (rest[0], rest[1]) if key is not None else (None, rest[0])
                found.append(Mentions(_as_date(when), rule, grouped, int(count)))
                # A source's spellings are one line (mention_series draws them so): counted so
                # here, a renamed source's lines do not stop the reading short.
                lines.add((rule, name_key(grouped) if isinstance(grouped, str) else grouped))
                if most_lines is not None and len(lines) > most_lines:
                    break  # an answer too large to give: no need to read the rest
        return found


def _as_asked(merged: dict[str, str]) -> ColumnElement[str]:
    """The hit's rule, its spellings of a name stored under several (RuleSpellings.merged) read
    as that name: grouped as one, an article hit under two counts once."""
    return case(merged, value=hits.c.rule, else_=hits.c.rule) if merged else hits.c.rule


def _newest_of(names: Sequence[str]) -> Select[str, datetime | None]:
    """Each name with when its source's newest article arrived (None: it has none), one step
    down the (source, seq) index each."""
    named = values(column("name", String), name="named").data([(name,) for name in names]).cte("named")
    newest = (
        select(articles.c.fetched)
        .where(articles.c.source == named.c.name)
        .order_by(articles.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(named.c.name, newest)


def _recent(*columns: ColumnElement[Any], since: datetime, until: datetime) -> CTE:
    """Those columns of the articles published from `since` to `until`, read through the index
    of publication dates (see above)."""
    chosen = select(*columns).where(_published_within(since, until))
    return chosen.cte("recent").prefix_with("MATERIALIZED")


def _published_within(since: datetime, until: datetime) -> ColumnElement[bool]:
    # A date ahead (a source's clock, up to a day, as plausible_date lets in) is not recent.
    return and_(articles.c.published >= since, articles.c.published <= until)


def _day_sqlite(published: Any) -> ColumnElement[Any]:
    return func.substr(published, 1, 10)  # stored as text, 'YYYY-MM-DD HH:MM:SS.ffffff'


def _day_postgresql(published: Any) -> ColumnElement[Any]:
    return cast(published, Date)  # stored in UTC without a zone


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
