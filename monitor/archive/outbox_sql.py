"""The alert outbox on SQL (SqlArchive.outbox): rows written with their articles (writes.py), then sent,
held for a digest, retried or dead-lettered by the dispatcher."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, case, func, or_, select, true, tuple_, update

from monitor.archive.connections import Transactions, operation
from monitor.archive.rows import alert_from
from monitor.archive.tables import alerts
from monitor.models import AlertRecord, AlertState


class SqlOutbox:
    """The outbox's rows, in the archive's database (SQLite or PostgreSQL)."""

    def __init__(self, db: Transactions) -> None:
        self.db = db

    @operation("claiming alerts")
    def claim_alerts(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        names: Sequence[str],
        state: AlertState = AlertState.PENDING,
        claimer: str = "once",
        channels: Sequence[str] | None = None,
    ) -> list[AlertRecord]:
        """Take up to `limit` rows of the named alerts in this state (pending, or held for a
        digest) whose next attempt has come, oldest first, for sending: claimed until the lease's
        end, no other dispatcher (another process, or this one's next round) takes them while
        they are sent. Marking them sent, failed or held ends the claim; a dispatcher that dies
        mid-send leaves them due again when the lease ends (or at once: release_alert_claims)."""
        is_due = (
            alerts.c.state == state.value,
            alerts.c.alert.in_(list(names)),
            or_(alerts.c.next_attempt.is_(None), alerts.c.next_attempt <= now),
            or_(alerts.c.claimed_until.is_(None), alerts.c.claimed_until <= now),
            alerts.c.channel.in_(list(channels)) if channels is not None else true(),
        )
        with self.db.reading() as connection:  # the common answer is "none": no write lock for it
            if connection.execute(select(alerts.c.id).where(*is_due).limit(1)).first() is None:
                return []
        with self.db.writing() as connection:
            due = select(alerts).where(*is_due).order_by(alerts.c.created, alerts.c.id).limit(limit)
            # PostgreSQL: dispatchers of several daemons each take other rows (SQLite ignores it).
            rows = connection.execute(due.with_for_update(skip_locked=True)).all()
            if rows:
                connection.execute(
                    update(alerts)
                    .where(alerts.c.id.in_([row.id for row in rows]))
                    .values(claimed_until=lease_until, claimed_by=claimer)
                )
        return [alert_from(row) for row in rows]

    @operation("releasing stale alert claims")
    def release_alert_claims(self, claimer: str) -> int:
        """End the claims of this kind of process: for a daemon starting on an archive that it
        alone may run on (SQLite), the claims of a daemon before it, killed mid-send, are stale
        (a `monitor once` beside it keeps its own)."""
        with self.db.writing() as connection:
            result = connection.execute(
                update(alerts)
                .where(alerts.c.claimed_by == claimer, alerts.c.claimed_until.is_not(None))
                .values(claimed_until=None, claimed_by=None)
            )
        return result.rowcount

    @operation("renewing alert claims")
    def renew_alert_claims(self, ids: Sequence[str], held_until: datetime, new_until: datetime) -> set[str]:
        """Extend the claims still as this dispatcher took them (until `held_until`), as their
        send starts; returns those ids. A row missing was claimed again after its lease lapsed
        while it waited: another send has it, and this one must not go out."""
        with self.db.writing() as connection:
            renewed = connection.execute(
                update(alerts)
                .where(alerts.c.id.in_(list(ids)), alerts.c.claimed_until == held_until)
                .values(claimed_until=new_until)
                .returning(alerts.c.id)
            ).scalars()
            return set(renewed)

    @operation("marking alerts sent")
    def mark_alerts_sent(self, ids: Sequence[str], now: datetime) -> None:
        with self.db.writing() as connection:
            connection.execute(
                update(alerts)
                .where(alerts.c.id.in_(list(ids)))
                .values(
                    state=AlertState.SENT.value,
                    sent=now,
                    attempts=alerts.c.attempts + 1,
                    next_attempt=None,
                    last_error=None,
                    claimed_until=None,
                    claimed_by=None,
                )
            )

    @operation("holding alerts")
    def hold_alerts(self, ids: Sequence[str], until: datetime) -> None:
        """Hold pending alerts for the digest sent at `until` (quiet hours, throttle)."""
        with self.db.writing() as connection:
            connection.execute(
                update(alerts)
                .where(alerts.c.id.in_(list(ids)), alerts.c.state == AlertState.PENDING.value)
                .values(state=AlertState.HELD.value, next_attempt=until, claimed_until=None, claimed_by=None)
            )

    @operation("postponing alerts")
    def postpone_alerts(self, ids: Sequence[str], until: datetime) -> None:
        """Leave pending rows for `until` (their channel paused), no attempt counted, the claims
        ended."""
        with self.db.writing() as connection:
            connection.execute(
                update(alerts)
                .where(alerts.c.id.in_(list(ids)), alerts.c.state == AlertState.PENDING.value)
                .values(next_attempt=until, claimed_until=None, claimed_by=None)
            )

    @operation("bringing held alerts forward")
    def bring_forward_held(self, alert: str, until: datetime) -> int:
        """Release an alert's held rows at `until` at the latest (never later than they were
        due); how many were brought forward."""
        with self.db.writing() as connection:
            result = connection.execute(
                update(alerts)
                .where(
                    alerts.c.alert == alert,
                    alerts.c.state == AlertState.HELD.value,
                    alerts.c.next_attempt > until,
                )
                .values(next_attempt=until)
            )
        return result.rowcount

    @operation("counting stories sent")
    def stories_sent(self, alert: str, since: datetime) -> int:
        """How many stories this alert sent since then (over all its channels)."""
        with self.db.reading() as connection:
            return int(
                connection.execute(
                    select(func.count(alerts.c.story.distinct())).where(
                        alerts.c.alert == alert,
                        alerts.c.state == AlertState.SENT.value,
                        alerts.c.sent >= since,
                    )
                ).scalar_one()
            )

    @operation("recording failed alerts")
    def mark_alerts_failed(
        self,
        retries: Mapping[str, datetime | None],
        error: str,
        now: datetime,
        retry_state: AlertState = AlertState.PENDING,
    ) -> None:
        """Record a failed attempt of each row; one without a next attempt is dead-lettered."""
        statement = (
            update(alerts)
            .where(alerts.c.id == bindparam("failed_id"))
            .values(
                state=bindparam("new_state"),
                attempts=alerts.c.attempts + 1,
                next_attempt=bindparam("retry_at"),
                last_error=error[:2000],
                claimed_until=None,
                claimed_by=None,
            )
        )
        rows = [
            {
                "failed_id": alert_id,
                "new_state": (retry_state if retry else AlertState.FAILED).value,
                "retry_at": retry,
            }
            for alert_id, retry in retries.items()
        ]
        if rows:
            with self.db.writing() as connection:
                connection.execute(statement, rows)

    @operation("retrying alerts")
    def retry_alerts(self, ids: Sequence[str], failed: bool, now: datetime) -> int:
        """Send these alerts (and, with `failed`, every dead-lettered one) again now; a failed
        one afresh. Sent ones, and held ones (their digest, throttle or quiet hours decide when),
        are left as they are."""
        chosen: ColumnElement[bool] = alerts.c.id.in_(list(ids))
        if failed:
            chosen = or_(chosen, alerts.c.state == AlertState.FAILED.value)
        with self.db.writing() as connection:
            result = connection.execute(
                update(alerts)
                .where(chosen, alerts.c.state.in_([AlertState.FAILED.value, AlertState.PENDING.value]))
                # A dead-lettered row starts afresh; one still pending keeps the count of its
                # attempts and only goes now.
                .values(
                    state=AlertState.PENDING.value,
                    attempts=case((alerts.c.state == AlertState.FAILED.value, 0), else_=alerts.c.attempts),
                    next_attempt=now,
                )
            )
        return result.rowcount

    @operation("looking up alerts")
    def missing_alerts(self, ids: Sequence[str]) -> list[str]:
        """The ids no alert of the outbox has."""
        with self.db.reading() as connection:
            known = set(connection.execute(select(alerts.c.id).where(alerts.c.id.in_(list(ids)))).scalars())
        return [alert_id for alert_id in ids if alert_id not in known]

    @operation("reading the alert history")
    def alerts(
        self, limit: int, state: AlertState | None = None, before: tuple[datetime, str] | None = None
    ) -> list[AlertRecord]:
        newest = select(alerts).order_by(alerts.c.created.desc(), alerts.c.id.desc()).limit(limit)
        if state is not None:
            newest = newest.where(alerts.c.state == state.value)
        if before is not None:
            # Bound as the column's type (UtcDateTime: stored naive UTC, as the rows hold it).
            created = bindparam("before_created", before[0], type_=alerts.c.created.type)
            newest = newest.where(tuple_(alerts.c.created, alerts.c.id) < tuple_(created, before[1]))
        with self.db.reading() as connection:
            rows = connection.execute(newest).all()
        return [alert_from(row) for row in rows]
