"""The alert outbox, on every backend: the same state changes on SQLite and PostgreSQL, and no
row sent twice by dispatchers claiming at once. Rows are written here with plain inserts (the
articles' own store is the archive's, tested apart)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import insert

from monitor.archive import OutboxRow
from monitor.archive.connections import Transactions
from monitor.archive.outbox_sql import SqlOutbox
from monitor.archive.tables import alerts, articles
from monitor.models import AlertState
from tests.archive.conftest import Opener
from tests.archive.helpers import NOW

LEASE = NOW + timedelta(minutes=5)


def _write(db: Transactions, stories: list[str], alert: str = "desk") -> list[str]:
    """An article per story and one pending row of `alert` for each; the rows' ids, oldest first."""
    rows = [OutboxRow(alert, "webhook:x", story, f"article-{story}", ("Iron Dome",)) for story in stories]
    with db.writing() as connection:
        connection.execute(
            insert(articles),
            [
                {
                    "id": f"article-{story}", "url": f"https://x.test/{story}", "guid": story,
                    "source": "Wire", "title": story, "teaser": "", "text": "", "summary": "",
                    "published": NOW, "fetched": NOW, "story": story, "matched": 1,
                }
                for story in stories
            ],
        )  # fmt: skip
        connection.execute(
            insert(alerts),
            [
                {
                    "id": row.id, "alert": row.alert, "channel": row.channel, "story": row.story,
                    "article_id": row.article_id, "rules": json.dumps(list(row.rules)),
                    "state": AlertState.PENDING.value, "attempts": 0,
                    "created": NOW + timedelta(seconds=number),
                }
                for number, row in enumerate(rows)
            ],
        )  # fmt: skip
    return [row.id for row in rows]


def test_a_row_is_claimed_sent_failed_held_and_retried_the_same_way(database: Opener) -> None:
    db = database()
    outbox = SqlOutbox(db)
    first, second, third = _write(db, ["s1", "s2", "s3"])
    claimed = outbox.claim_alerts(NOW, LEASE, 2, ["desk"])
    assert [row.id for row in claimed] == [first, second]  # oldest first
    assert [row.id for row in outbox.claim_alerts(NOW, LEASE, 10, ["desk"])] == [third]
    assert outbox.claim_alerts(NOW, LEASE, 10, ["desk"]) == []  # all held by claims
    assert outbox.renew_alert_claims([first, second], LEASE, LEASE + timedelta(minutes=5)) == {first, second}
    outbox.mark_alerts_sent([first], NOW)
    outbox.mark_alerts_failed({second: NOW + timedelta(minutes=1)}, "HTTP 500", NOW)
    outbox.mark_alerts_failed({third: None}, "HTTP 410", NOW)  # no next attempt: dead-lettered
    states = {row.id: (row.state, row.attempts, row.last_error) for row in outbox.alerts(10)}
    assert states == {
        first: (AlertState.SENT, 1, None),
        second: (AlertState.PENDING, 1, "HTTP 500"),
        third: (AlertState.FAILED, 1, "HTTP 410"),
    }
    assert outbox.stories_sent("desk", NOW - timedelta(hours=1)) == 1
    assert outbox.claim_alerts(NOW, LEASE, 10, ["desk"]) == []  # the retry is not due yet
    assert [row.id for row in outbox.claim_alerts(NOW + timedelta(minutes=1), LEASE, 10, ["desk"])] == [
        second
    ]
    outbox.hold_alerts([second], NOW + timedelta(hours=1))  # claimed rows are not pending: unchanged
    assert outbox.retry_alerts([], True, NOW) == 1  # the dead-lettered one
    assert outbox.missing_alerts(["nope", first]) == ["nope"]


def test_held_rows_wait_for_their_digest_and_can_be_brought_forward(database: Opener) -> None:
    db = database()
    outbox = SqlOutbox(db)
    ids = _write(db, ["s1", "s2"])
    outbox.hold_alerts(ids, NOW + timedelta(hours=2))
    assert outbox.claim_alerts(NOW, LEASE, 10, ["desk"]) == []  # held rows are not pending
    # A retry leaves them held (found by a review: it said "queued again", and the dispatcher
    # held them again): their digest, throttle or quiet hours decide.
    assert outbox.retry_alerts(ids, False, NOW) == 0
    assert {row.state for row in outbox.alerts(10)} == {AlertState.HELD}
    assert outbox.claim_alerts(NOW, LEASE, 10, ["desk"], AlertState.HELD) == []  # not due yet
    assert outbox.bring_forward_held("desk", NOW + timedelta(hours=1)) == 2
    later = NOW + timedelta(hours=1)
    assert len(outbox.claim_alerts(later, later + timedelta(minutes=5), 10, ["desk"], AlertState.HELD)) == 2


def test_a_daemons_stale_claims_are_released_and_a_lapsed_one_is_not_renewed(database: Opener) -> None:
    db = database()
    outbox = SqlOutbox(db)
    [row_id] = _write(db, ["s1"])
    assert len(outbox.claim_alerts(NOW, LEASE, 10, ["desk"], claimer="daemon")) == 1
    assert outbox.release_alert_claims("once") == 0
    assert outbox.release_alert_claims("daemon") == 1
    assert len(outbox.claim_alerts(NOW, LEASE, 10, ["desk"])) == 1
    later = LEASE + timedelta(seconds=1)  # the lease lapsed and another dispatcher took the row
    assert len(outbox.claim_alerts(later, later + timedelta(minutes=5), 10, ["desk"])) == 1
    assert outbox.renew_alert_claims([row_id], LEASE, LEASE + timedelta(minutes=5)) == set()


def test_dispatchers_claiming_at_once_never_take_one_row_twice(database: Opener) -> None:
    """Four dispatchers, each on connections of its own as separate daemons would be: every
    row is claimed by exactly one."""
    ids = _write(database(), [f"s{number:03}" for number in range(120)])
    dispatchers = [SqlOutbox(database()) for _ in range(4)]

    def claim_all(outbox: SqlOutbox) -> list[str]:
        taken: list[str] = []
        while batch := outbox.claim_alerts(NOW, LEASE, 5, ["desk"]):
            taken += [row.id for row in batch]
        return taken

    with ThreadPoolExecutor(len(dispatchers)) as pool:
        claims = [row_id for taken in pool.map(claim_all, dispatchers) for row_id in taken]
    assert sorted(claims) == sorted(ids)


def test_a_dispatcher_may_claim_only_the_channels_it_has(database: Opener) -> None:
    db = database()
    outbox = SqlOutbox(db)
    [row_id] = _write(db, ["s1"])  # a row to webhook:x
    assert outbox.claim_alerts(NOW, LEASE, 10, ["desk"], channels=["jsonl:/alerts.jsonl"]) == []
    [claimed] = outbox.claim_alerts(NOW, LEASE, 10, ["desk"], channels=["webhook:x"])
    assert claimed.id == row_id


def test_a_digests_rows_are_marked_sent_together(database: Opener) -> None:
    db = database()
    outbox = SqlOutbox(db)
    ids = _write(db, [f"s{number}" for number in range(5)])
    outbox.claim_alerts(NOW, LEASE, 10, ["desk"])
    outbox.mark_alerts_sent(ids[:4], NOW)
    states = {row.id: (row.state, row.attempts) for row in outbox.alerts(10)}
    assert states == {**{id_: (AlertState.SENT, 1) for id_ in ids[:4]}, ids[4]: (AlertState.PENDING, 0)}


def test_the_history_is_paged_from_the_last_row_of_a_page(database: Opener) -> None:
    """Newest first, then by id; a page from `before` (the last row's creation and id) holds the
    next rows, each row once, though rows share a moment or differ by a microsecond."""
    db = database()
    outbox = SqlOutbox(db)
    ids = _write(db, [f"s{number}" for number in range(9)])
    moments = [NOW, NOW, NOW, NOW + timedelta(microseconds=1), NOW + timedelta(microseconds=2)]
    moments += [NOW + timedelta(seconds=5)] * 3 + [NOW + timedelta(days=1)]
    with db.writing() as connection:
        for alert_id, moment in zip(ids, moments, strict=True):
            connection.execute(alerts.update().where(alerts.c.id == alert_id).values(created=moment))
    whole = outbox.alerts(100)
    expected = sorted(zip(moments, ids, strict=True), reverse=True)
    assert [(row.created, row.id) for row in whole] == expected
    for size in (1, 2, 4):
        paged: list[str] = []
        before = None
        while True:
            page = outbox.alerts(size, None, before)
            paged += [row.id for row in page]
            if len(page) < size:
                break
            before = (page[-1].created, page[-1].id)
        assert paged == [row.id for row in whole], size
    with db.writing() as connection:
        connection.execute(alerts.update().where(alerts.c.id == ids[2]).values(state=AlertState.SENT.value))
    sent_after = outbox.alerts(10, AlertState.SENT, (whole[0].created, whole[0].id))
    assert [row.id for row in sent_after] == [ids[2]]
    assert outbox.alerts(10, AlertState.SENT, (NOW, ids[2])) == []
