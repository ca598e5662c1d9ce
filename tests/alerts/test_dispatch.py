from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.alerts import SENDS_PER_CHANNEL, dispatch
from monitor.alerts import pauses as pauses_module
from monitor.alerts.claims import CLAIM_LEASE
from monitor.alerts.dispatch import MAX_ATTEMPTS, AlertRoute, Dispatcher, retry_at
from monitor.alerts.schedules import AlertMode
from monitor.alerts.webhook import WebhookNotifier
from monitor.archive.sql import SqlArchive
from monitor.errors import ArchiveError, NotifyError
from monitor.models import AlertState
from tests.archive.helpers import NOW, make_article
from tests.servers import WebhookReceiver


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def setup(
    tmp_path: Path, webhook: WebhookReceiver, mode: AlertMode = AlertMode.IMMEDIATE
) -> tuple[SqlArchive, Dispatcher, Clock]:
    archive = SqlArchive(f"sqlite:///{tmp_path / 'a.db'}")
    notifier = WebhookNotifier(webhook.url, timedelta(seconds=5), "test")
    clock = Clock()
    route = AlertRoute("desk", frozenset({"Iron Dome"}), mode, (notifier,))
    return archive, Dispatcher(archive, [route], clock), clock


def test_outbox_rows_only_for_the_alert_rules(tmp_path: Path, webhook: WebhookReceiver) -> None:
    _, dispatcher, _ = setup(tmp_path, webhook)
    assert len(dispatcher.outbox_for(make_article("a1"))) == 1
    assert dispatcher.outbox_for(make_article("a2", hits=())) == []


def test_failed_send_is_retried_with_the_same_key(tmp_path: Path, webhook: WebhookReceiver) -> None:
    archive, dispatcher, clock = setup(tmp_path, webhook)
    article = make_article("a1")
    archive.store_new([article], dispatcher.outbox_for(article))
    webhook.status = 503
    report = asyncio.run(dispatcher.dispatch())
    assert (report.sent, report.failed) == (0, 1)
    [row] = archive.outbox.alerts(10)
    assert row.state.value == "pending" and row.next_attempt is not None
    assert row.last_error is not None and "HTTP 503" in row.last_error

    webhook.status = 200
    assert asyncio.run(dispatcher.dispatch()).sent == 0  # not due yet
    clock.now = row.next_attempt
    assert asyncio.run(dispatcher.dispatch()).sent == 1
    [delivery] = webhook.deliveries
    assert delivery.headers["Idempotency-Key"] == row.id == delivery.payload["alert_id"]
    assert delivery.payload["rules"] == ["Iron Dome"]
    assert asyncio.run(dispatcher.dispatch()).sent == 0
    asyncio.run(dispatcher.close())


def test_a_receiver_asking_for_a_wait_or_not_answering_pauses_its_channel(
    tmp_path: Path, webhook: WebhookReceiver
) -> None:
    """A review saw 247 POSTs in 40 s to a receiver answering 429 with Retry-After: 20, each
    alert spending an attempt of its own. The channel now waits as asked: the alerts not yet
    tried are left for then, no attempt counted, and go out once it answers again."""
    archive, dispatcher, clock = setup(tmp_path, webhook)
    articles = [make_article(f"a{n}") for n in range(12)]
    for article in articles:
        archive.store_new([article], dispatcher.outbox_for(article))
    webhook.status, webhook.headers = 429, {"Retry-After": "120"}
    report = asyncio.run(dispatcher.dispatch())
    assert webhook.arrivals <= SENDS_PER_CHANNEL and report.failed == webhook.arrivals
    assert report.postponed == 12 - webhook.arrivals  # said in once's summary
    rows = archive.outbox.alerts(20)
    assert {row.state.value for row in rows} == {"pending"}
    assert sum(1 for row in rows if row.attempts) == webhook.arrivals  # the others: no attempt spent
    assert all(row.next_attempt and row.next_attempt >= NOW + timedelta(seconds=120) for row in rows)
    clock.now += timedelta(seconds=60)
    assert asyncio.run(dispatcher.dispatch()).sent == 0 and webhook.arrivals <= SENDS_PER_CHANNEL
    webhook.status, webhook.headers = 200, {}
    clock.now += timedelta(hours=1)
    assert asyncio.run(dispatcher.dispatch()).sent == 12
    asyncio.run(dispatcher.close())


def test_sends_failing_together_count_as_one_outage() -> None:
    pauses, channel = pauses_module.ChannelPauses(), ("desk", "webhook:x")
    timeout = NotifyError("webhook:x", "not done within its 2s deadline", unreachable=True)
    for _ in range(SENDS_PER_CHANNEL):  # the four in flight when the receiver hung
        pauses.failed(channel, timeout, NOW)
    assert pauses.until(channel, NOW) == NOW + timedelta(seconds=pauses_module.PAUSE_FIRST)
    later = NOW + timedelta(seconds=pauses_module.PAUSE_FIRST + 1)
    pauses.failed(channel, timeout, later)  # still down after the pause: it doubles
    assert pauses.until(channel, later) == later + timedelta(seconds=2 * pauses_module.PAUSE_FIRST)
    pauses.answered(channel)
    assert pauses.until(channel, later) is None


def test_a_message_refused_for_itself_does_not_pause_its_channel(
    tmp_path: Path, webhook: WebhookReceiver
) -> None:
    archive, dispatcher, _ = setup(tmp_path, webhook)
    for n in range(6):
        article = make_article(f"a{n}")
        archive.store_new([article], dispatcher.outbox_for(article))
    webhook.status = 500  # no Retry-After: this message's trouble, each tried as it comes
    report = asyncio.run(dispatcher.dispatch())
    assert report.failed == webhook.arrivals == 6
    asyncio.run(dispatcher.close())


def test_dead_letter_after_max_attempts(tmp_path: Path, webhook: WebhookReceiver) -> None:
    archive, dispatcher, clock = setup(tmp_path, webhook)
    article = make_article("a1")
    archive.store_new([article], dispatcher.outbox_for(article))
    webhook.status = 500
    for _ in range(MAX_ATTEMPTS):
        asyncio.run(dispatcher.dispatch())
        clock.now += timedelta(hours=2)
    [row] = archive.outbox.alerts(10)
    assert (row.state.value, row.attempts) == ("failed", MAX_ATTEMPTS)
    asyncio.run(dispatcher.close())


def test_retry_schedule() -> None:
    first = retry_at(NOW, 1, None)
    assert first is not None and timedelta(seconds=30) <= first - NOW <= timedelta(seconds=33)
    honoured = retry_at(NOW, 1, 600.0)
    assert honoured is not None and honoured - NOW == timedelta(seconds=600)
    assert retry_at(NOW, MAX_ATTEMPTS, None) is None


def test_digest_is_one_message(tmp_path: Path, webhook: WebhookReceiver) -> None:
    archive, dispatcher, _ = setup(tmp_path, webhook, mode=AlertMode.DIGEST)
    articles = [make_article("a1"), make_article("a2")]
    archive.store_new(articles, [row for a in articles for row in dispatcher.outbox_for(a)])
    assert asyncio.run(dispatcher.dispatch()).sent == 0  # digests wait for their schedule
    assert asyncio.run(dispatcher.send_digest("desk")).sent == 2
    [delivery] = webhook.deliveries
    assert delivery.payload["digest"] is True
    assert sorted(a["id"] for a in delivery.payload["articles"]) == ["a1", "a2"]
    assert asyncio.run(dispatcher.send_digest("desk")).sent == 0
    asyncio.run(dispatcher.close())


def test_dead_letter_by_age_and_retry_from_the_cli(tmp_path: Path, webhook: WebhookReceiver) -> None:
    archive, dispatcher, clock = setup(tmp_path, webhook)
    article = make_article("a1")
    archive.store_new([article], dispatcher.outbox_for(article))
    webhook.status = 500
    asyncio.run(dispatcher.dispatch())
    clock.now += timedelta(days=3)  # older than the default max_age of two days
    asyncio.run(dispatcher.dispatch())
    [row] = archive.outbox.alerts(10)
    assert (row.state.value, row.attempts) == ("failed", 2)
    assert archive.outbox.retry_alerts([], failed=True, now=clock.now) == 1
    webhook.status = 200
    clock.now += timedelta(seconds=1)
    assert asyncio.run(dispatcher.dispatch()).sent == 1
    assert archive.outbox.retry_alerts([row.id], failed=False, now=clock.now) == 0  # sent stays sent
    asyncio.run(dispatcher.close())


class BuggyNotifier:
    """A channel with a bug of ours (no real channel can be made to raise one on purpose)."""

    key = "buggy:test"
    deadline = 5.0

    async def send(self, payload: dict[str, object], idempotency_key: str) -> None:
        raise RuntimeError("a bug in a channel")

    async def close(self) -> None:
        return None


def test_a_channel_raising_anything_fails_only_its_own_alerts(
    tmp_path: Path, webhook: WebhookReceiver
) -> None:
    archive = SqlArchive(f"sqlite:///{tmp_path / 'a.db'}")
    webhook_notifier = WebhookNotifier(webhook.url, timedelta(seconds=5), "test")
    routes = [
        AlertRoute("buggy", None, AlertMode.IMMEDIATE, (BuggyNotifier(),)),
        AlertRoute("desk", None, AlertMode.IMMEDIATE, (webhook_notifier,)),
        AlertRoute("daily", None, AlertMode.DIGEST, (BuggyNotifier(),)),
    ]
    dispatcher = Dispatcher(archive, routes, Clock())
    article = make_article("a1")
    archive.store_new([article], dispatcher.outbox_for(article))

    report = asyncio.run(dispatcher.dispatch())
    assert (report.sent, report.failed) == (1, 1)
    assert len(webhook.deliveries) == 1
    digest = asyncio.run(dispatcher.send_digest("daily"))
    assert (digest.sent, digest.failed) == (0, 1)
    failed = {row.alert: row for row in archive.outbox.alerts(10) if row.alert != "desk"}
    for row in failed.values():
        assert row.state.value == "pending" and row.attempts == 1 and row.next_attempt is not None
        assert (
            row.last_error is not None
            and "unexpected error: RuntimeError: a bug in a channel" in row.last_error
        )
    asyncio.run(dispatcher.close())


def test_a_digest_counts_its_stories_and_messages_not_its_rows(
    tmp_path: Path, webhook: WebhookReceiver
) -> None:
    archive = SqlArchive(f"sqlite:///{tmp_path / 'a.db'}")
    channels = tuple(
        WebhookNotifier(f"{webhook.url}?copy={n}", timedelta(seconds=5), "test") for n in range(3)
    )
    dispatcher = Dispatcher(archive, [AlertRoute("desk", None, AlertMode.DIGEST, channels)], Clock())
    articles = [make_article(f"a{n}") for n in range(5)]
    archive.store_new(articles, [row for a in articles for row in dispatcher.outbox_for(a)])
    report = asyncio.run(dispatcher.send_digest("desk"))
    assert (report.sent, len(report.stories), report.messages) == (15, 5, 3)
    asyncio.run(dispatcher.close())


@pytest.mark.parametrize("renewed_by", ["the daemon", "the dispatch waiting"])
def test_rows_waiting_for_a_slot_keep_their_claim_past_its_first_lease(
    tmp_path: Path, webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, renewed_by: str
) -> None:
    """A slow receiver leaves rows waiting for a slot longer than a lease: renewals (the daemon's,
    or a waiting dispatch's own, as in `monitor once`) keep them this dispatcher's, so another
    sharing the archive finds none to take and each goes out once."""
    archive, dispatcher, clock = setup(tmp_path, webhook)
    articles = [make_article(f"a{n}") for n in range(2 * SENDS_PER_CHANNEL)]
    archive.store_new(articles, [row for a in articles for row in dispatcher.outbox_for(a)])
    webhook.delay = 0.5
    monkeypatch.setattr(dispatch, "RENEW_EVERY", 0.05)

    async def run() -> list[str]:
        waiting = asyncio.create_task(dispatcher.dispatch(wait=renewed_by == "the dispatch waiting"))
        await asyncio.sleep(0.2)  # the first sends under way, the rest waiting for a slot
        clock.now += CLAIM_LEASE * 3 / 4
        if renewed_by == "the daemon":
            await dispatcher.renew_claims()
        else:
            await asyncio.sleep(0.15)
        clock.now += CLAIM_LEASE / 2  # past the lease the waiting rows were claimed for
        taken = await asyncio.to_thread(
            archive.outbox.claim_alerts, clock.now, clock.now + CLAIM_LEASE, 100, ["desk"],
            AlertState.PENDING, "another daemon",
        )  # fmt: skip
        await waiting
        assert await dispatcher.drain(10) == 0
        return [row.id for row in taken]

    assert asyncio.run(run()) == []
    keys = [delivery.headers["Idempotency-Key"] for delivery in webhook.deliveries]
    assert len(keys) == len(set(keys)) == len(articles)
    assert {row.state for row in archive.outbox.alerts(100)} == {AlertState.SENT}
    asyncio.run(dispatcher.close())


def test_a_digest_whose_rows_could_not_be_marked_goes_again_as_the_same_message(
    tmp_path: Path, webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver has the digest but the archive fails as its rows are marked (as a process
    killed then would): no row is marked, so once the claims lapse the same rows go again, under
    the same key, and a receiver that keeps keys sees one message."""
    archive, dispatcher, clock = setup(tmp_path, webhook, mode=AlertMode.DIGEST)
    articles = [make_article(f"a{n}") for n in range(3)]
    archive.store_new(articles, [row for a in articles for row in dispatcher.outbox_for(a)])
    marking = archive.outbox.mark_alerts_sent

    def fails_once(ids: list[str], now: datetime) -> None:
        monkeypatch.setattr(archive.outbox, "mark_alerts_sent", marking)
        raise ArchiveError("the archive went away while marking")

    monkeypatch.setattr(archive.outbox, "mark_alerts_sent", fails_once)
    assert asyncio.run(dispatcher.send_digest("desk")).sent == 0
    assert {row.state for row in archive.outbox.alerts(10)} == {AlertState.PENDING}
    clock.now += CLAIM_LEASE + timedelta(minutes=1)
    assert asyncio.run(dispatcher.send_digest("desk")).sent == 3
    first, again = (delivery.headers["Idempotency-Key"] for delivery in webhook.deliveries)
    assert first == again
    assert {row.state for row in archive.outbox.alerts(10)} == {AlertState.SENT}
    asyncio.run(dispatcher.close())


def test_a_failed_digests_rows_are_tried_again_together(
    tmp_path: Path, webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """One jitter for the digest's rows (one message again, one key), and one log line, not one
    a row (a digest of thousands of stories)."""
    archive, dispatcher, _ = setup(tmp_path, webhook, mode=AlertMode.DIGEST)
    articles = [make_article(f"a{n}") for n in range(20)]
    archive.store_new(articles, [row for a in articles for row in dispatcher.outbox_for(a)])
    webhook.status = 503
    with caplog.at_level(logging.WARNING, logger="monitor"):
        assert asyncio.run(dispatcher.send_digest("desk")).failed == 20
    [logged] = [record.getMessage() for record in caplog.records]
    assert "digest of 20 alerts to webhook:" in logged and "failed (attempt 1)" in logged, logged
    rows = archive.outbox.alerts(100)
    assert {(row.state, row.attempts) for row in rows} == {(AlertState.PENDING, 1)}
    retries = {row.next_attempt for row in rows}
    assert len(retries) == 1 and None not in retries
    asyncio.run(dispatcher.close())


def test_sends_cut_short_at_shutdown_record_nothing_and_leave_no_send_unawaited(
    tmp_path: Path,
) -> None:
    """Sends still running when the shutdown grace ends are stopped, not left to fail as the
    channels close under them (recorded as a failed attempt with a closed connection's empty
    `ReadError: `): their rows stay claimed, for the next start or the claim's lapse. Those
    still waiting for a slot leave no never-awaited send behind (a RuntimeWarning at every stop)."""
    hanging = WebhookReceiver()
    hanging.delay = 3.0
    archive, dispatcher, _ = setup(tmp_path, hanging)
    articles = [make_article(f"a{n}") for n in range(SENDS_PER_CHANNEL + 2)]
    archive.store_new(articles, [row for a in articles for row in dispatcher.outbox_for(a)])

    async def stop_mid_send() -> int:
        await dispatcher.dispatch(wait=False)
        while hanging.arrivals < SENDS_PER_CHANNEL:  # noqa: ASYNC110 (the receiver's thread counts)
            await asyncio.sleep(0.02)
        unfinished = await dispatcher.drain(0.1)
        await dispatcher.close()
        return unfinished

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(stop_mid_send()) == len(articles)
        gc.collect()
    hanging.close()
    assert [str(warning.message) for warning in caught] == []
    rows = archive.outbox.alerts(100)
    assert {(row.state, row.attempts, row.last_error) for row in rows} == {(AlertState.PENDING, 0, None)}
