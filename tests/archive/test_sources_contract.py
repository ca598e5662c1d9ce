"""The sources' schedule state, on every backend: the same answers from SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.archive import FetchOutcome
from monitor.archive.sources_sql import SqlSources
from monitor.models import PollResult, PollStatus
from tests.archive.conftest import Opener
from tests.archive.helpers import BACKENDS, NOW, archive_of

LEASE = NOW + timedelta(minutes=10)


def test_sources_are_made_known_claimed_released_and_recorded(database: Opener) -> None:
    sources = SqlSources(database())
    sources.sync_sources([("One", "https://x.test/feed"), ("Removed", "https://x.test/old")], NOW)
    assert sources.claim_due_sources(NOW, LEASE, 10, ["One", "Two"]) == ["One"]
    assert sources.claim_due_sources(NOW, LEASE, 10, ["One", "Two"]) == []  # claimed until LEASE
    assert sources.release_claims(NOW) == 1  # a daemon died mid-poll: due again at once
    assert sources.claim_due_sources(NOW, LEASE, 10, ["One"]) == ["One"]
    failed = PollStatus(PollResult.ERROR)
    sources.record_fetches([("One", FetchOutcome(NOW, NOW + timedelta(minutes=5), failed, error="boom"))])
    sources.record_fetches([("One", FetchOutcome(NOW, NOW + timedelta(minutes=9), failed, error="boom2"))])
    state = sources.source_states_of(["One", "Unknown"])["One"]
    assert (state.consecutive_errors, state.last_error, state.failing_since) == (2, "boom2", NOW)
    assert state.next_due == NOW + timedelta(minutes=9) and state.last_status == failed
    ok = PollStatus(PollResult.OK, "200")
    outcome = FetchOutcome(
        NOW,
        NOW + timedelta(hours=1),
        ok,
        etag='"e"',
        interval=timedelta(minutes=20),
        entry_digests=b"\x01\x02",
    )
    sources.record_fetches([("One", outcome)])
    [one, removed] = sources.source_states()
    assert (one.name, one.consecutive_errors, one.last_error, one.etag, one.last_status) == (
        "One",
        0,
        None,
        '"e"',
        ok,
    )
    assert (one.interval, one.entry_digests) == (timedelta(minutes=20), b"\x01\x02")
    assert removed.name == "Removed" and removed.next_due == NOW


def test_an_edited_url_starts_the_source_afresh(database: Opener) -> None:
    sources = SqlSources(database())
    sources.sync_sources([("One", "https://x.test/feed")], NOW)
    outcome = FetchOutcome(NOW, NOW + timedelta(hours=1), PollStatus(PollResult.OK, "200"), etag='"e"')
    sources.record_fetches([("One", outcome)])
    later = NOW + timedelta(minutes=1)
    sources.sync_sources([("One", "https://x.test/feed")], later)  # unchanged: kept
    assert sources.source_states_of(["One"])["One"].etag == '"e"'
    sources.sync_sources([("One", "https://x.test/other")], later)
    state = sources.source_states_of(["One"])["One"]
    assert (state.url, state.etag, state.next_due) == ("https://x.test/other", None, later)


def test_a_shortened_interval_brings_the_next_poll_forward(database: Opener) -> None:
    """Found by a review: `every: 10m` changed to 30s, the daemon restarted still waited out
    the ten minutes the last poll had scheduled."""
    sources = SqlSources(database())
    names = ["Fine", "Soon", "Failing", "Claimed", "Gone", "New"]
    sources.sync_sources([(name, f"https://x.test/{name}") for name in names], NOW)
    ok, failed = PollStatus(PollResult.OK, "200"), PollStatus(PollResult.ERROR)
    sources.record_fetches(
        [
            ("Fine", FetchOutcome(NOW, NOW + timedelta(minutes=10), ok)),
            ("Soon", FetchOutcome(NOW, NOW + timedelta(seconds=20), ok)),
            ("Failing", FetchOutcome(NOW, NOW + timedelta(minutes=40), failed, error="boom")),  # backing off
            ("Gone", FetchOutcome(NOW, None, PollStatus(PollResult.GONE), error="410")),
        ]
    )
    assert sources.claim_due_sources(NOW, LEASE, 10, ["Claimed"]) == ["Claimed"]
    latest = dict.fromkeys(names, timedelta(seconds=33))
    assert sorted(sources.bring_forward(latest)) == ["Fine"]
    states = sources.source_states_of(names)
    assert states["Fine"].next_due == NOW + timedelta(seconds=33)
    assert states["Soon"].next_due == NOW + timedelta(seconds=20)  # sooner already: kept
    assert states["Failing"].next_due == NOW + timedelta(minutes=40)
    assert states["Claimed"].next_due == LEASE and states["Gone"].next_due is None
    assert states["New"].next_due == NOW  # never polled: due at once as it was
    assert sources.bring_forward(latest) == []


def test_daemons_claiming_at_once_never_take_one_source_twice(database: Opener) -> None:
    """Four pollers, each on connections of its own as separate daemons would be, claim from
    200 due sources at once: every source is claimed exactly once."""
    names = [f"s{number:03}" for number in range(200)]
    SqlSources(database()).sync_sources([(name, f"https://x.test/{name}") for name in names], NOW)
    pollers = [SqlSources(database()) for _ in range(4)]

    def claim_all(sources: SqlSources) -> list[str]:
        taken: list[str] = []
        while batch := sources.claim_due_sources(NOW, LEASE, 7, names):
            taken += batch
        return taken

    with ThreadPoolExecutor(len(pollers)) as pool:
        claims = [name for taken in pool.map(claim_all, pollers) for name in taken]
    assert sorted(claims) == names


def test_a_running_polls_lease_is_renewed_and_a_dead_ones_lapses(database: Opener) -> None:
    alive, dead = SqlSources(database()), SqlSources(database())
    alive.sync_sources([("Alive", "https://x.test/a"), ("Dead", "https://x.test/d")], NOW)
    assert alive.claim_due_sources(NOW, LEASE, 1, ["Alive"]) == ["Alive"]
    later = NOW + timedelta(seconds=1)
    assert dead.claim_due_sources(later, LEASE, 1, ["Dead"]) == ["Dead"]
    renewed_until = LEASE + timedelta(minutes=10)
    assert alive.renew_claims(["Alive"], NOW, renewed_until) == {"Alive"}
    assert alive.renew_claims(["Dead"], NOW, renewed_until) == set()  # another claim's: not ours
    # Past the first lease, the dead daemon's source is due and taken; the living one's is not.
    taken = alive.claim_due_sources(LEASE, LEASE + timedelta(minutes=2), 10, ["Alive", "Dead"])
    assert taken == ["Dead"]
    assert dead.renew_claims(["Dead"], later, renewed_until) == set()  # woke up too late: lost it
    ok = FetchOutcome(NOW, NOW + timedelta(hours=1), PollStatus(PollResult.OK, "200"))
    alive.record_fetches([("Alive", ok)])
    assert alive.renew_claims(["Alive"], NOW, renewed_until) == set()  # recorded: nothing to renew


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_last_poll_end_is_the_newest_fetch_of_any_source(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """What /healthz of `monitor serve` alone reports: when any daemon last ended a poll."""
    with archive_of(request, tmp_path, backend) as archive:
        assert archive.last_poll_end() is None
        archive.sync_sources([("One", "https://x.test/a"), ("Two", "https://x.test/b")], NOW)
        assert archive.last_poll_end() is None  # known, never polled
        ok = PollStatus(PollResult.OK, "200")
        later = NOW + timedelta(minutes=3, microseconds=250)
        archive.record_fetches(
            [
                ("One", FetchOutcome(NOW, NOW + timedelta(hours=1), ok)),
                ("Two", FetchOutcome(later, later, ok)),
            ]
        )
        assert archive.last_poll_end() == later
