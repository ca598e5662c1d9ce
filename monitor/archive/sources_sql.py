"""Sources' schedule state on SQL, SQLite and PostgreSQL alike: the configured sources made
known, due ones claimed with a lease, what each poll did recorded.

A claim selects its rows FOR UPDATE SKIP LOCKED (PostgreSQL: daemons sharing the database each
take other sources; SQLite ignores the clause and a process's writes are one at a time anyway)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.archive import FetchOutcome
from monitor.archive.connections import Transactions, operation
from monitor.archive.rows import source_state_from
from monitor.archive.tables import sources
from monitor.models import SourceState


class SqlSources:
    def __init__(self, db: Transactions) -> None:
        self.db = db
        self._insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert

    @operation("making the configured sources known")
    def sync_sources(self, configured: Sequence[tuple[str, str]], now: datetime) -> None:
        """Make the configured sources known; a new one is due at once."""
        with self.db.writing() as connection:
            for name, url in configured:
                statement: Any = self._insert(sources).values(
                    name=name, url=url, next_due=now, consecutive_errors=0
                )
                changed = sources.c.url != url  # an edited URL starts afresh
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=["name"],
                        set_={
                            "url": url,
                            "next_due": case((changed, now), else_=sources.c.next_due),
                            "moved_to": case((changed, None), else_=sources.c.moved_to),
                            "etag": case((changed, None), else_=sources.c.etag),
                            "last_modified": case((changed, None), else_=sources.c.last_modified),
                            "body_hash": case((changed, None), else_=sources.c.body_hash),
                            "consecutive_errors": case((changed, 0), else_=sources.c.consecutive_errors),
                            "interval_seconds": case((changed, None), else_=sources.c.interval_seconds),
                            "entry_digests": case((changed, None), else_=sources.c.entry_digests),
                            "boilerplate": case((changed, None), else_=sources.c.boilerplate),
                        },
                    )
                )

    @operation("scheduling the sources by their configured intervals")
    def bring_forward(self, latest: Mapping[str, timedelta]) -> list[str]:
        """See Archive.bring_forward. A failing source's backoff and a claim are left alone."""
        moved = []
        with self.db.writing() as connection:
            polled = connection.execute(
                select(sources.c.name, sources.c.last_fetch, sources.c.next_due).where(
                    sources.c.name.in_(list(latest)),
                    sources.c.consecutive_errors == 0,
                    sources.c.claimed_at.is_(None),
                    sources.c.last_fetch.is_not(None),
                    sources.c.next_due.is_not(None),  # None: gone, not polled any more
                )
            ).all()
            for name, last_fetch, next_due in polled:
                due = last_fetch + latest[name]
                if next_due > due:
                    connection.execute(update(sources).where(sources.c.name == name).values(next_due=due))
                    moved.append(name)
        return moved

    @operation("claiming due sources")
    def claim_due_sources(
        self, now: datetime, lease_until: datetime, limit: int, names: Sequence[str]
    ) -> list[str]:
        """Take up to `limit` of the named sources that are due, pushing next_due to the lease's end."""
        is_due = (sources.c.next_due <= now, sources.c.name.in_(list(names)))
        with self.db.reading() as connection:  # the common answer is "none": no write lock for it
            if connection.execute(select(sources.c.name).where(*is_due).limit(1)).first() is None:
                return []
        with self.db.writing() as connection:
            due = select(sources.c.name).where(*is_due).order_by(sources.c.next_due).limit(limit)
            claimed = list(connection.execute(due.with_for_update(skip_locked=True)).scalars())
            if claimed:
                connection.execute(
                    update(sources)
                    .where(sources.c.name.in_(claimed))
                    .values(next_due=lease_until, claimed_at=now)
                )
        return claimed

    @operation("renewing source claims")
    def renew_claims(self, names: Sequence[str], claimed_at: datetime, until: datetime) -> set[str]:
        """Extend to `until` the leases of these sources claimed at `claimed_at` (polls still
        running); the names renewed (not those whose poll was recorded, or whose lease lapsed
        and another poller claimed them)."""
        if not names:
            return set()
        mine = (sources.c.name.in_(list(names)), sources.c.claimed_at == claimed_at)
        with self.db.writing() as connection:
            renewed = connection.execute(
                update(sources).where(*mine).values(next_due=until).returning(sources.c.name)
            )
            return set(renewed.scalars())

    @operation("releasing stale source claims")
    def release_claims(self, now: datetime) -> int:
        """Make the sources claimed by a daemon that died mid-poll due again at once.

        For a daemon starting on an archive that it alone uses (SQLite): its claims are stale.
        """
        with self.db.writing() as connection:
            result = connection.execute(
                update(sources).where(sources.c.claimed_at.is_not(None)).values(next_due=now, claimed_at=None)
            )
        return result.rowcount

    @operation("reading sources' states")
    def source_states_of(self, names: Sequence[str]) -> dict[str, SourceState]:
        """The stored states of these sources (one query per few thousand)."""
        found: dict[str, SourceState] = {}
        with self.db.reading() as connection:
            for start in range(0, len(names), 5000):
                chosen = list(names[start : start + 5000])
                for row in connection.execute(select(sources).where(sources.c.name.in_(chosen))):
                    found[row.name] = source_state_from(row)
        return found

    @operation("reading sources' states")
    def source_states(self) -> list[SourceState]:
        with self.db.reading() as connection:
            rows = connection.execute(select(sources).order_by(sources.c.name)).all()
        return [source_state_from(row) for row in rows]

    @operation("recording polls")
    def record_fetches(self, outcomes: Sequence[tuple[str, FetchOutcome]]) -> None:
        """What polls did to their sources' schedule state, in one transaction."""
        with self.db.writing() as connection:
            for name, outcome in outcomes:
                values = _fetch_values(outcome)
                connection.execute(update(sources).where(sources.c.name == name).values(**values))


def _fetch_values(outcome: FetchOutcome) -> dict[str, Any]:
    values: dict[str, Any] = {
        "last_fetch": outcome.when,
        "last_status": str(outcome.status),
        "next_due": outcome.next_due,
        "claimed_at": None,
    }
    if outcome.error is None:
        values |= {"last_error": None, "consecutive_errors": 0, "failing_since": None}
        if outcome.etag is not None or outcome.last_modified is not None:
            values |= {"etag": outcome.etag, "last_modified": outcome.last_modified}
        if outcome.body_hash is not None:
            values["body_hash"] = outcome.body_hash
        if outcome.full_fetch:
            values["last_full_fetch"] = outcome.when
        if outcome.interval is not None:
            values["interval_seconds"] = outcome.interval.total_seconds()
        if outcome.entry_digests is not None:
            values["entry_digests"] = outcome.entry_digests
        if outcome.boilerplate is not None:
            values["boilerplate"] = outcome.boilerplate
    else:
        values |= {
            "last_error": outcome.error,
            "consecutive_errors": sources.c.consecutive_errors + 1,
            "failing_since": func.coalesce(sources.c.failing_since, outcome.when),
        }
    if outcome.moved_to:
        values["moved_to"] = outcome.moved_to
    return values


class SourceSchedule:
    """The Archive port's methods on sources' schedule state (see Archive), one body for both
    adapters: each holds its SqlSources as `sources`."""

    sources: SqlSources

    def sync_sources(self, configured: Sequence[tuple[str, str]], now: datetime) -> None:
        self.sources.sync_sources(configured, now)

    def bring_forward(self, latest: Mapping[str, timedelta]) -> list[str]:
        return self.sources.bring_forward(latest)

    def claim_due_sources(
        self, now: datetime, lease_until: datetime, limit: int, names: Sequence[str]
    ) -> list[str]:
        return self.sources.claim_due_sources(now, lease_until, limit, names)

    def renew_claims(self, names: Sequence[str], claimed_at: datetime, until: datetime) -> set[str]:
        return self.sources.renew_claims(names, claimed_at, until)

    def release_claims(self, now: datetime) -> int:
        return self.sources.release_claims(now)

    def source_states_of(self, names: Sequence[str]) -> dict[str, SourceState]:
        return self.sources.source_states_of(names)

    def source_states(self) -> list[SourceState]:
        return self.sources.source_states()

    def record_fetch(self, name: str, outcome: FetchOutcome) -> None:
        self.sources.record_fetches([(name, outcome)])

    def record_fetches(self, outcomes: Sequence[tuple[str, FetchOutcome]]) -> None:
        self.sources.record_fetches(outcomes)
