"""Daemons sharing a PostgreSQL archive store side by side, and take turns only when two stores
may touch the same rows: the same article (id or URL) or copies of one story (a band key)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from monitor.archive import OutboxRow
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.pg_articles import take_turns
from monitor.models import Article
from monitor.near_duplicates import band_keys, fingerprint
from tests.archive.helpers import make_article

TEXT = "Taiwan will deploy twelve T-Dome launchers on an offshore island next year, officials said."


@pytest.fixture
def daemons(postgres_url: str, postgres_schema: str) -> Iterator[list[PostgresArchive]]:
    opened = [PostgresArchive(postgres_url, schema=postgres_schema) for _ in range(2)]
    yield opened
    for archive in opened:
        archive.close()


def _stored_while_held(daemons: list[PostgresArchive], held: Article, other: Article) -> bool:
    """Whether daemon 1 stores `other` within 2 s while daemon 0 is in the middle of storing `held`."""
    done = threading.Event()
    with daemons[0].db.storing() as cursor:
        take_turns(cursor, [held])

        def store_other() -> None:
            daemons[1].store_new([other], [])
            done.set()

        thread = threading.Thread(target=store_other)
        thread.start()
        stored = done.wait(2.0)
    thread.join(10)
    assert done.is_set()  # and once the first store ended, it went in
    return stored


def test_stores_of_different_articles_run_side_by_side(daemons: list[PostgresArchive]) -> None:
    held = make_article("a1", fingerprint=fingerprint("One", TEXT), text=TEXT)
    other = make_article("b1", url="https://x.test/b1", text="Iron ore prices fell.", fingerprint=None)
    assert _stored_while_held(daemons, held, other)


@pytest.mark.parametrize("shared", ["id", "url", "story"])
def test_stores_that_may_touch_the_same_rows_take_turns(daemons: list[PostgresArchive], shared: str) -> None:
    held = make_article("a1", fingerprint=fingerprint("One", TEXT), text=TEXT)
    other = {
        "id": make_article("a1", url="https://elsewhere.test/a1"),
        "url": make_article("a2", url=held.url),
        "story": make_article(
            "a3",
            url="https://wire.test/a3",
            source="Tide Wire",
            text=TEXT,
            fingerprint=fingerprint("Two", TEXT),
        ),
    }[shared]
    assert not _stored_while_held(daemons, held, other)


def _stored_at_once(daemons: list[PostgresArchive], batches: list[list[Article]]) -> list[BaseException]:
    """Each daemon stores its batch, with an alert row per article, at the same moment; what the
    stores raised."""
    errors: list[BaseException] = []
    meeting = threading.Barrier(len(batches))

    def store(side: int) -> None:
        batch = batches[side]
        alerts = [OutboxRow("desk", "webhook:x", article.story, article.id, ("R",)) for article in batch]
        meeting.wait()
        try:
            daemons[side].store_new(batch, alerts)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=store, args=(side,)) for side in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_overlapping_stores_in_opposite_orders_never_deadlock(daemons: list[PostgresArchive]) -> None:
    """Two daemons store the same articles (listed by two feeds each), in opposite orders, at
    once: every store succeeds and each article and alert is stored once."""
    errors: list[BaseException] = []
    for round_ in range(40):
        batch = [  # 60 articles, 120 names: each locked (MOST_TURNS)
            make_article(f"r{round_}-{index}", url=f"https://x.test/r{round_}/{index}") for index in range(60)
        ]
        errors += _stored_at_once(daemons, [batch, batch[::-1]])
    assert errors == []
    with daemons[0].db.read_cursor() as cursor:
        [[articles, alerts]] = cursor.execute(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM alerts)"
        ).fetchall()
    assert (articles, alerts) == (40 * 60, 40 * 60)


def _locks_held(archive: PostgresArchive, batch: list[Article]) -> int:
    """How many advisory locks a store of the batch holds once it has taken its turns."""
    with archive.db.storing() as cursor:
        take_turns(cursor, batch)
        [[held]] = cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        ).fetchall()
    return int(held)


def test_a_store_holds_a_bounded_number_of_locks(daemons: list[PostgresArchive]) -> None:
    """PostgreSQL's lock table is the whole server's (about 6,400 locks by default): a batch of 32
    articles locked name by name held over 700, and twenty such stores at once filled it ("out of
    shared memory"). A poll's few new articles lock their names; a larger batch one lock."""

    def batch(size: int) -> list[Article]:
        return [
            make_article(
                f"b{size}-{index}", url=f"https://x.test/b{size}/{index}", text=f"{TEXT} {index}.",
                fingerprint=fingerprint(f"b{size}", f"{TEXT} {index}"),
            )
            for index in range(size)
        ]  # fmt: skip

    few = batch(5)
    bands = {band for article in few if article.fingerprint for band in band_keys(article.fingerprint)}
    assert _locks_held(daemons[0], few) == 1 + 2 * len(few) + len(bands)  # the storing lock, shared
    assert _locks_held(daemons[0], batch(32)) == 1


ROUNDS = 100


def _bins(base: int, same: range, salt: int) -> tuple[int, ...]:
    """A fingerprint equal to the story's (`base`) in the bins of `same`, its own elsewhere."""
    return tuple(
        base + index if index in same else 10**12 + base * 100 + salt * 10**6 + index for index in range(64)
    )


def test_copies_joining_stories_through_different_band_keys_never_deadlock(
    daemons: list[PostgresArchive],
) -> None:
    """Two copies of one archived story that share no band key with each other both join it, and
    both write its rows (shared flags, alert row): two daemons storing such copies of two stories in
    opposite orders waited on each other ("deadlock detected") until stores took turns by story."""
    errors: list[BaseException] = []
    for round_ in range(ROUNDS):
        stories = range(round_ * 5, round_ * 5 + 5)
        archived = [
            make_article(f"s{story}-{copy}", url=f"https://old.test/{story}/{copy}", story=f"S{story}",
                         fingerprint=_bins(story * 1000, range(64), 0))
            for story in stories for copy in (1, 2)
        ]  # fmt: skip
        daemons[0].store_new(archived, [])
        sides = [
            [
                make_article(f"s{story}-{side}", url=f"https://{side}.test/{story}",
                             fingerprint=_bins(story * 1000, same, salt))
                for story in stories
            ]
            for salt, (side, same) in enumerate((("a", range(0, 33)), ("b", range(31, 64))), start=1)
        ]  # fmt: skip
        sides[1].reverse()
        errors += _stored_at_once(daemons, sides)
    assert errors == []
    with daemons[0].db.read_cursor() as cursor:
        [[joined, alerts]] = cursor.execute(
            "SELECT (SELECT count(*) FROM articles WHERE story LIKE 'S%%' AND url NOT LIKE '%%old.test%%'), "
            "(SELECT count(*) FROM alerts)"
        ).fetchall()
    assert (joined, alerts) == (ROUNDS * 5 * 2, ROUNDS * 5)  # every copy joined its story; one alert a story
