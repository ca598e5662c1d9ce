"""Quiet hours and throttling: held alerts go out together, as one digest per channel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.alerts.dispatch import AlertRoute, Dispatcher
from monitor.alerts.holding import QuietHours, hold_until, parse_throttle
from monitor.alerts.schedules import HOURLY, AlertMode, Schedule
from monitor.alerts.webhook import WebhookNotifier
from monitor.archive.sql import SqlArchive
from tests.alerts.test_dispatch import Clock
from tests.archive.helpers import make_article
from tests.servers import WebhookReceiver

TAIPEI = ZoneInfo("Asia/Taipei")  # UTC+8, no daylight saving
NIGHT = QuietHours(time(22, 0), time(7, 0), TAIPEI)


@pytest.mark.parametrize(
    ("utc", "end"),
    [
        (datetime(2026, 1, 6, 15, 0, tzinfo=UTC), datetime(2026, 1, 6, 23, 0, tzinfo=UTC)),  # 23:00 local
        (datetime(2026, 1, 6, 20, 0, tzinfo=UTC), datetime(2026, 1, 6, 23, 0, tzinfo=UTC)),  # 04:00 local
        (datetime(2026, 1, 6, 23, 0, tzinfo=UTC), None),  # 07:00 local: over
        (datetime(2026, 1, 6, 5, 0, tzinfo=UTC), None),  # 13:00 local
    ],
)
def test_quiet_hours_past_midnight_in_a_time_zone(utc: datetime, end: datetime | None) -> None:
    assert NIGHT.end_of_quiet(utc) == end


def test_quiet_hours_within_a_day() -> None:
    lunch = QuietHours(time(12, 0), time(13, 30), ZoneInfo("UTC"))
    assert lunch.end_of_quiet(datetime(2026, 1, 6, 12, 10, tzinfo=UTC)) == datetime(
        2026, 1, 6, 13, 30, tzinfo=UTC
    )
    assert lunch.end_of_quiet(datetime(2026, 1, 6, 13, 30, tzinfo=UTC)) is None


def test_throttle_and_slots() -> None:
    assert parse_throttle("5/hour").count == 5 and parse_throttle("20 / day").window == timedelta(days=1)
    for bad in ("0/hour", "five/hour", "5/week"):
        with pytest.raises(ValueError, match="N/hour"):
            parse_throttle(bad)
    now = datetime(2026, 1, 6, 9, 20, tzinfo=UTC)
    assert Schedule.parse("1h").next_after(now) == datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    assert Schedule.parse("0 8 * * *").next_after(now) == datetime(2026, 1, 7, 8, 0, tzinfo=UTC)
    throttle = parse_throttle("2/hour")
    assert hold_until(now, None, throttle, 1, HOURLY) is None
    assert hold_until(now, None, throttle, 2, HOURLY) == datetime(2026, 1, 6, 10, 0, tzinfo=UTC)


def _dispatcher(
    tmp_path: Path, webhook: WebhookReceiver, **route: object
) -> tuple[SqlArchive, Dispatcher, Clock]:
    archive = SqlArchive(f"sqlite:///{tmp_path / 'a.db'}")
    notifier = WebhookNotifier(webhook.url, timedelta(seconds=5), "test")
    clock = Clock()
    desk = AlertRoute("desk", None, AlertMode.IMMEDIATE, (notifier,), **route)  # type: ignore[arg-type]
    return archive, Dispatcher(archive, [desk], clock), clock


def _store(archive: SqlArchive, dispatcher: Dispatcher, keys: list[str]) -> None:
    for key in keys:
        article = make_article(key, title=f"Story {key}", text=f"Iron Dome report {key}.")
        archive.store_new([article], dispatcher.outbox_for(article))


def test_beyond_the_throttle_alerts_roll_into_the_next_digest(
    tmp_path: Path, webhook: WebhookReceiver
) -> None:
    archive, dispatcher, clock = _dispatcher(
        tmp_path, webhook, throttle=parse_throttle("2/hour"), every=HOURLY
    )
    _store(archive, dispatcher, ["a1", "a2", "a3", "a4", "a5"])
    report = asyncio.run(dispatcher.dispatch())
    assert report.sent == 2 and len(webhook.deliveries) == 2
    assert sorted(row.state.value for row in archive.outbox.alerts(10)) == ["held"] * 3 + ["sent"] * 2

    clock.now += timedelta(minutes=20)
    assert asyncio.run(dispatcher.dispatch()).sent == 0  # the digest slot (10:00) has not come
    clock.now = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    assert asyncio.run(dispatcher.dispatch()).sent == 3
    first = {delivery.payload["article"]["title"] for delivery in webhook.deliveries[:2]}
    digest = webhook.deliveries[-1].payload
    held = {article["title"] for article in digest["articles"]}
    assert digest["digest"] is True and len(held) == 3
    assert first | held == {f"Story a{n}" for n in range(1, 6)}
    assert {row.state.value for row in archive.outbox.alerts(10)} == {"sent"}
    asyncio.run(dispatcher.close())


def test_quiet_hours_hold_alerts_until_they_end(tmp_path: Path, webhook: WebhookReceiver) -> None:
    archive, dispatcher, clock = _dispatcher(tmp_path, webhook, quiet=NIGHT)
    clock.now = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)  # midnight in Taipei
    _store(archive, dispatcher, ["a1", "a2"])
    assert asyncio.run(dispatcher.dispatch()).sent == 0
    [row, _] = archive.outbox.alerts(10)
    assert row.state.value == "held" and row.next_attempt == datetime(2026, 1, 6, 23, 0, tzinfo=UTC)
    webhook.status = 503
    clock.now = datetime(2026, 1, 6, 23, 0, tzinfo=UTC)
    assert asyncio.run(dispatcher.dispatch()).failed == 2
    assert {row.state.value for row in archive.outbox.alerts(10)} == {"held"}  # retried as a digest
    webhook.status = 200
    clock.now += timedelta(minutes=5)
    assert asyncio.run(dispatcher.dispatch()).sent == 2
    assert webhook.deliveries[-1].payload["digest"] is True
    asyncio.run(dispatcher.close())


def test_held_alerts_follow_the_config_of_the_next_run(tmp_path: Path, webhook: WebhookReceiver) -> None:
    archive, dispatcher, clock = _dispatcher(tmp_path, webhook, quiet=NIGHT)
    clock.now = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)  # midnight in Taipei: held until 07:00
    _store(archive, dispatcher, ["a1", "a2"])
    assert asyncio.run(dispatcher.dispatch()).sent == 0
    asyncio.run(dispatcher.close())
    # The operator drops the quiet hours and restarts: the held alerts go out now, not at 07:00.
    notifier = WebhookNotifier(webhook.url, timedelta(seconds=5), "test")
    restarted = Dispatcher(archive, [AlertRoute("desk", None, AlertMode.IMMEDIATE, (notifier,))], clock)
    clock.now += timedelta(minutes=1)
    assert asyncio.run(restarted.dispatch()).sent == 2
    assert webhook.deliveries[-1].payload["digest"] is True
    asyncio.run(restarted.close())


@pytest.mark.parametrize("every", ["1m", "15m", "1h", "1d"])
def test_a_digest_fires_on_its_periods_boundaries_whenever_its_daemon_started(every: str) -> None:
    """Two daemons started apart fire at the same times (the digest job takes turns), not each
    on its own start time plus periods: one digest a period, not one per daemon."""
    schedule = Schedule.parse(every)
    for started in (datetime(2026, 3, 4, 5, 6, 7, 891011, UTC), datetime(2026, 3, 4, 5, 36, 30, tzinfo=UTC)):
        fire = schedule.trigger().get_next_fire_time(None, started)
        assert fire == schedule.next_after(started)
