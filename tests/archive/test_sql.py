from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from monitor.archive import OutboxRow, SearchFilters
from monitor.archive.migrations import ALEMBIC, APPLICATION_ID
from monitor.archive.schema import BASELINE, SQLITE_ONLY
from monitor.archive.sql import SqlArchive
from monitor.archive.tables import metadata
from monitor.errors import ArchiveError
from monitor.near_duplicates import fingerprint
from monitor.rules import parse_query
from tests.archive.helpers import NOW, as_before_alembic, make_article


def outbox(key: str) -> OutboxRow:
    return OutboxRow("desk", "webhook:x", key, key, ("Iron Dome",))


def test_schema_is_versioned_and_reopening_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    SqlArchive(f"sqlite:///{path}").close()
    SqlArchive(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == ALEMBIC
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        connection.execute(f"PRAGMA user_version = {ALEMBIC + 1}")
    with pytest.raises(ArchiveError, match="newer than this program knows"):
        SqlArchive(f"sqlite:///{path}")


def test_an_archive_opened_while_another_holds_the_new_file_waits_its_turn(tmp_path: Path) -> None:
    """Processes opening one new archive at once: the switch to WAL needs the file to itself,
    and SQLite's busy handler does not wait for that; it failed now and then, at once."""
    path = tmp_path / "a.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, holder.execute, ("COMMIT",))
    release.start()
    try:
        SqlArchive(f"sqlite:///{path}").close()
    finally:
        release.join()
        holder.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://", "sqlite:///file:a?mode=memory&uri=true"])
def test_an_in_memory_archive_is_refused_with_the_reason(url: str) -> None:
    with pytest.raises(ArchiveError, match="in-memory database: every connection"):
        SqlArchive(url)


def _make_version_1(path: Path) -> None:
    """Turn a new archive's tables into those version 1 made, and mark it as a monitor before
    Alembic left it."""
    with sqlite3.connect(path) as connection:
        for index in ("articles_source_content", "articles_source_seq"):
            connection.execute(f"DROP INDEX {index}")
        later = ("moved_to", "body_hash", "last_full_fetch", "interval_seconds", "claimed_at")
        for column in (*later, "entry_digests", "boilerplate"):
            connection.execute(f"ALTER TABLE sources DROP COLUMN {column}")
        for column in ("fingerprint", "content_hash", "shared"):
            connection.execute(f"ALTER TABLE articles DROP COLUMN {column}")
        connection.execute("DROP TABLE story_bands")
        connection.execute("DROP TABLE publication_marks")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_until")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_by")
        as_before_alembic(connection, 1)


def test_a_version_1_archive_is_upgraded_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    archive = SqlArchive(f"sqlite:///{path}")
    archive.sync_sources([("One", "https://x.test/feed")], NOW)
    archive.close()
    _make_version_1(path)
    upgraded = SqlArchive(f"sqlite:///{path}")
    state = upgraded.source_states_of(["One"]).get("One")
    assert state is not None and state.url == "https://x.test/feed" and state.moved_to is None
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == ALEMBIC


def test_a_version_6_archive_is_reindexed_with_teaser_and_text_apart(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    archive = SqlArchive(f"sqlite:///{path}")
    split = make_article("a1", title="Talks", teaser="Talks on Iron", text="Dome batteries resumed.")
    archive.store_new([split], [])
    archive.close()
    with sqlite3.connect(path) as connection:  # the version-6 index: one body, unicode61
        connection.execute("DROP TABLE articles_fts")
        connection.execute(
            "CREATE VIRTUAL TABLE articles_fts USING fts5("
            "title, body, tokenize = 'unicode61 remove_diacritics 0')"
        )
        connection.execute(
            "INSERT INTO articles_fts(rowid, title, body) SELECT seq, lower(title), "
            "lower(teaser || ' ' || text) FROM articles"
        )
        connection.execute("DROP TABLE publication_marks")
        connection.execute("ALTER TABLE articles DROP COLUMN shared")
        connection.execute("DROP INDEX articles_source_content")
        connection.execute("ALTER TABLE sources DROP COLUMN boilerplate")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_until")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_by")
        connection.execute("DROP INDEX articles_source_seq")
        as_before_alembic(connection, 6)
    upgraded = SqlArchive(f"sqlite:///{path}")
    assert upgraded.search(parse_query('"iron dome"'), SearchFilters()) == []
    assert [found.article.id for found in upgraded.search(parse_query("dome"), SearchFilters())] == ["a1"]
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == ALEMBIC
        [(tokenizer,)] = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'")
        assert "ascii" in tokenizer


def test_a_store_failing_midway_leaves_nothing_and_the_next_one_works(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    archive = SqlArchive(f"sqlite:///{path}")
    archive.store_new([make_article("a0")], [])
    with sqlite3.connect(path) as connection:  # SQLite refuses the last rows a store writes
        connection.execute(
            "CREATE TRIGGER refuse AFTER INSERT ON alerts WHEN new.article_id = 'a2' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(ArchiveError, match="cannot write the archive: refused"):
        archive.store_new([make_article("a1"), make_article("a2")], [outbox("a1"), outbox("a2")])
    with pytest.raises(ValueError, match="naive"):  # refused before SQLite sees it
        archive.store_new([make_article("a3", published=NOW.replace(tzinfo=None))], [])
    assert set(archive.known_entries("Harbor Daily", ["a0", "a1", "a2", "a3"], []).hashes) == {"a0"}
    assert archive.outbox.claim_alerts(NOW, NOW, 10, ["desk"]) == []
    assert len(archive.store_new([make_article("a1"), make_article("a4")], [outbox("a1")])) == 2
    assert [item.article.id for item in archive.search(parse_query("iron"), SearchFilters())] == [
        "a4",
        "a1",
        "a0",
    ]


def _copies_shown(archive: SqlArchive) -> dict[str, list[str]]:
    found = archive.search(parse_query("iron"), SearchFilters())
    return {item.article.id: [source for source, _ in item.also_reported_by] for item in found}


def test_copies_stored_together_or_upgraded_from_version_8_are_shown(tmp_path: Path) -> None:
    path = tmp_path / "v8.db"
    archive = SqlArchive(f"sqlite:///{path}")
    fingerprint = tuple(range(1, 65))
    archive.store_new(
        [
            make_article("a1", fingerprint=fingerprint),
            make_article("a2", url="https://wire.test/a2", source="Tide Wire", fingerprint=fingerprint),
            make_article("a3", url="https://x.test/a3", text="Iron ore prices fell."),
        ],
        [],
    )
    expected = {"a1": ["Tide Wire"], "a2": ["Harbor Daily"], "a3": []}
    assert _copies_shown(archive) == expected
    archive.close()
    with sqlite3.connect(path) as connection:  # the version-8 schema: no shared flags
        connection.execute("ALTER TABLE articles DROP COLUMN shared")
        connection.execute("DROP INDEX articles_source_content")
        connection.execute("ALTER TABLE sources DROP COLUMN boilerplate")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_until")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_by")
        connection.execute("DROP INDEX articles_source_seq")
        as_before_alembic(connection, 8)
    upgraded = SqlArchive(f"sqlite:///{path}")
    assert _copies_shown(upgraded) == expected
    with sqlite3.connect(path) as connection:
        flags = connection.execute("SELECT id, shared FROM articles ORDER BY id").fetchall()
    assert flags == [("a1", 1), ("a2", 1), ("a3", 0)]


def test_a_search_the_archive_cannot_answer_says_so(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    archive = SqlArchive(f"sqlite:///{path}")
    archive.store_new([make_article("a1")], [])
    with sqlite3.connect(path) as connection:  # damaged behind the archive's back
        connection.execute("DROP TABLE articles_fts")
    with pytest.raises(ArchiveError, match="cannot read the archive: no such table: articles_fts"):
        archive.search(parse_query("iron"), SearchFilters())
    assert archive.article("a1") is not None  # the connection went back to the pool unharmed


def test_a_version_9_archive_gains_alert_claims(tmp_path: Path) -> None:
    path = tmp_path / "v9.db"
    archive = SqlArchive(f"sqlite:///{path}")
    archive.store_new([make_article("a1")], [outbox("a1")])
    archive.close()
    with sqlite3.connect(path) as connection:  # the version-9 schema: no claims
        connection.execute("DROP INDEX articles_source_content")
        connection.execute("ALTER TABLE sources DROP COLUMN boilerplate")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_until")
        connection.execute("ALTER TABLE alerts DROP COLUMN claimed_by")
        connection.execute("DROP INDEX articles_source_seq")
        as_before_alembic(connection, 9)
    upgraded = SqlArchive(f"sqlite:///{path}").outbox
    lease = NOW + timedelta(minutes=5)
    assert len(upgraded.claim_alerts(NOW, lease, 10, ["desk"])) == 1
    assert upgraded.claim_alerts(NOW, lease, 10, ["desk"]) == []  # claimed: nobody else sends it
    assert len(upgraded.claim_alerts(lease, lease, 10, ["desk"])) == 1  # the lease lapsed
    assert upgraded.release_alert_claims("daemon") == 0  # a `once` claimed it: not the daemon's to release
    assert (
        len(upgraded.claim_alerts(lease, lease + timedelta(minutes=5), 10, ["desk"], claimer="daemon")) == 1
    )
    assert upgraded.release_alert_claims("daemon") == 1
    assert len(upgraded.claim_alerts(NOW, lease, 10, ["desk"])) == 1  # released at a daemon's start


@pytest.mark.parametrize(
    "schema",
    [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
        "CREATE TABLE sources (id INTEGER PRIMARY KEY, feed TEXT); PRAGMA user_version = 3",
        "CREATE TABLE t (x); PRAGMA application_id = 1234",
        "PRAGMA user_version = 5",  # no tables, but a version: someone else's
    ],
)
def test_a_database_the_monitor_did_not_make_is_refused_unchanged(tmp_path: Path, schema: str) -> None:
    path = tmp_path / "theirs.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(schema)
    before = path.read_bytes()
    for _ in range(2):  # and again: nothing was half-converted by the first attempt
        with pytest.raises(ArchiveError, match=r"not made by the monitor .*: it is left unchanged"):
            SqlArchive(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_an_empty_file_and_an_archive_older_than_the_mark_are_ours(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    SqlArchive(f"sqlite:///{empty}").close()
    older = tmp_path / "older.db"
    SqlArchive(f"sqlite:///{older}").close()
    with sqlite3.connect(older) as connection:
        connection.execute("PRAGMA application_id = 0")  # made before archives were marked
    SqlArchive(f"sqlite:///{older}").close()
    for path in (empty, older):
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_file_that_is_no_database_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n" * 100)
    with pytest.raises(ArchiveError, match=r"not a readable SQLite database .*: it is left unchanged"):
        SqlArchive(f"sqlite:///{path}")
    assert path.read_text() == "shopping list\n" * 100


def test_a_version_11_archive_regroups_with_the_new_band_keys(tmp_path: Path) -> None:
    """Band keys of the version-11 scheme (four-bin bands, empty bins skipped) are recomputed,
    so a copy arriving after the upgrade still joins a story stored before it."""
    path = tmp_path / "v11.db"
    archive = SqlArchive(f"sqlite:///{path}")
    text = "Taiwan will deploy twelve T-Dome launchers on an offshore island next year, officials said."
    archive.store_new([make_article("a1", text=text, fingerprint=fingerprint("One", text))], [])
    archive.close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE story_bands SET band = band + 1")  # no longer the keys of today
        connection.execute("ALTER TABLE sources DROP COLUMN boilerplate")
        connection.execute("DROP INDEX articles_source_seq")
        as_before_alembic(connection, 11)
    upgraded = SqlArchive(f"sqlite:///{path}")
    copy = make_article(
        "a2", url="https://wire.test/a2", source="Tide Wire", text=text, fingerprint=fingerprint("Two", text)
    )
    upgraded.store_new([copy], [])
    assert (found := upgraded.article("a2")) is not None and found.article.story == "a1"


def test_a_version_12_archive_indexes_the_short_articles_its_upgrade_left_out(tmp_path: Path) -> None:
    """The v12 upgrade recomputed band keys only for articles that had some under the old scheme;
    a short article that had none gains them, so a copy arriving after the upgrade joins it."""
    path = tmp_path / "v12.db"
    archive = SqlArchive(f"sqlite:///{path}")
    text = "Taiwan will deploy twelve T-Dome launchers on an offshore island next year."
    archive.store_new([make_article("a1", text=text, fingerprint=fingerprint("One", text))], [])
    archive.close()
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM story_bands")
        connection.execute("DROP INDEX articles_source_seq")
        as_before_alembic(connection, 12)
    upgraded = SqlArchive(f"sqlite:///{path}")
    copy = make_article(
        "a2", url="https://wire.test/a2", source="Tide Wire", text=text, fingerprint=fingerprint("Two", text)
    )
    upgraded.store_new([copy], [])
    assert (found := upgraded.article("a2")) is not None and found.article.story == "a1"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "monitor.archive:revisions")
    return config


def _differences_from_the_tables(path: Path) -> list[object]:
    """What Alembic finds between the file and tables.py, foreign keys aside: SQLAlchemy reads
    no ON DELETE from a key written inline, as version 5 wrote story_bands' (_foreign_keys)."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_name": lambda name, *_: name not in SQLITE_ONLY}
            )
            found = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    return [item for item in found if item[0] not in ("add_fk", "remove_fk")]


def _foreign_keys(path: Path) -> set[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return {
            (table, *key[2:])  # the table referred to, the columns, ON UPDATE, ON DELETE, MATCH
            for table in ("sources", "articles", "story_bands", "publication_marks", "hits", "alerts")
            for key in connection.execute(f"PRAGMA foreign_key_list({table})")
        }


def test_alembic_makes_a_new_archive_and_takes_over_one_upgraded_from_version_1(tmp_path: Path) -> None:
    """A new archive is built by the revisions, an archive of version 1 by the old upgrades and
    then the revisions: both end as tables.py describes, at Alembic's newest revision."""
    new, old = tmp_path / "new.db", tmp_path / "old.db"
    SqlArchive(f"sqlite:///{new}").close()
    assert _differences_from_the_tables(new) == []
    SqlArchive(f"sqlite:///{old}").close()
    _make_version_1(old)
    assert _differences_from_the_tables(old) != []  # the test's premise: it lacks what came later
    SqlArchive(f"sqlite:///{old}").close()
    assert _differences_from_the_tables(old) == []
    assert _foreign_keys(old) == _foreign_keys(new)
    assert ("story_bands", "articles", "article_id", "id", "NO ACTION", "CASCADE", "NONE") in _foreign_keys(
        new
    )
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    for path in (new, old):
        with sqlite3.connect(path) as connection:
            assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
            assert connection.execute("PRAGMA user_version").fetchone()[0] == ALEMBIC


def test_a_version_13_archive_is_stamped_and_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "v13.db"
    archive = SqlArchive(f"sqlite:///{path}")
    archive.store_new([make_article("a1")], [outbox("a1")])
    archive.close()
    with sqlite3.connect(path) as connection:  # version 13 is the baseline's schema exactly
        as_before_alembic(connection, 13)
    upgraded = SqlArchive(f"sqlite:///{path}")
    assert [item.article.id for item in upgraded.search(parse_query("iron"), SearchFilters())] == ["a1"]
    assert len(upgraded.outbox.claim_alerts(NOW, NOW, 10, ["desk"])) == 1
    upgraded.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
        assert connection.execute("PRAGMA user_version").fetchone()[0] == ALEMBIC


def test_an_archive_at_a_revision_from_a_newer_monitor_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    SqlArchive(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'r99_from_the_future'")
    before = path.read_bytes()
    with pytest.raises(ArchiveError, match=r"revision 'r99_from_the_future', newer than this program knows"):
        SqlArchive(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_revisions_are_logged_a_line_each_and_only_on_an_archive_that_existed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.db"
    with caplog.at_level(logging.INFO):
        SqlArchive(f"sqlite:///{path}").close()
    assert [record for record in caplog.records if record.name.startswith("alembic")] == []
    with sqlite3.connect(path) as connection:
        connection.execute(f"UPDATE alembic_version SET version_num = '{BASELINE}'")
    with caplog.at_level(logging.INFO):
        SqlArchive(f"sqlite:///{path}").close()
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("alembic")]
    assert (
        lines[0] == "Running upgrade r13_baseline -> r14_search, The full-text index of PostgreSQL archives"
    )
    assert len(lines) >= 3 and all("\n" not in line for line in lines)
