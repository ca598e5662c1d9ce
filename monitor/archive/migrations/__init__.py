"""SQLite archives' schema: made and upgraded by Alembic (schema.py) as PostgreSQL's are;
those made before it are first brought forward by the upgrades below, one version step each,
to version 13, which is Alembic's baseline, and stamped with it. All of it in the opening
transaction. These upgrades have shipped and are never edited; new changes are revisions.

`PRAGMA user_version` says which: 1-13 the versions of these upgrades, ALEMBIC for an archive
whose revision Alembic's version table holds. A monitor from before Alembic reads ALEMBIC as a
version newer than it knows and refuses the archive, as it must.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, func, insert, select, text

from monitor.archive import engine
from monitor.archive.schema_revision import is_newest
from monitor.archive.tables import MARK_BLOCK, articles, story_bands
from monitor.errors import ArchiveError
from monitor.near_duplicates import band_keys, unpack
from monitor.rules.text import index_article

log = logging.getLogger(__name__)


# The full-text index as version 7 made it (the baseline revision makes it the same way).
_CREATE_INDEX = "CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, tokenize = 'ascii')"
_REINDEX_CHUNK = 2000


def _v1_to_v2(connection: Connection) -> None:
    """Permanent redirects, body hashes and periodic unconditional fetches per source."""
    connection.execute(text("ALTER TABLE sources ADD COLUMN moved_to TEXT"))
    connection.execute(text("ALTER TABLE sources ADD COLUMN body_hash VARCHAR"))
    connection.execute(text("ALTER TABLE sources ADD COLUMN last_full_fetch DATETIME"))


def _v2_to_v3(connection: Connection) -> None:
    """The adaptive poll interval of each source."""
    connection.execute(text("ALTER TABLE sources ADD COLUMN interval_seconds FLOAT"))


def _v3_to_v4(connection: Connection) -> None:
    """When a daemon claimed a source (cleared when the poll is recorded)."""
    connection.execute(text("ALTER TABLE sources ADD COLUMN claimed_at DATETIME"))


def _v4_to_v5(connection: Connection) -> None:
    """Near-duplicate fingerprints and their band index; entry hashes that reveal updates."""
    connection.execute(text("ALTER TABLE articles ADD COLUMN fingerprint BLOB"))
    connection.execute(text("ALTER TABLE articles ADD COLUMN content_hash VARCHAR"))
    connection.execute(
        text(
            "CREATE TABLE story_bands (band BIGINT NOT NULL, "
            "article_id VARCHAR NOT NULL REFERENCES articles (id) ON DELETE CASCADE, "
            "fetched DATETIME NOT NULL)"
        )
    )
    connection.execute(text("CREATE INDEX story_bands_band ON story_bands (band)"))
    connection.execute(text("CREATE INDEX story_bands_article ON story_bands (article_id)"))


def _v5_to_v6(connection: Connection) -> None:
    """Digests of each feed's items at its last read, so unchanged items are not read again."""
    connection.execute(text("ALTER TABLE sources ADD COLUMN entry_digests BLOB"))


def _v6_to_v7(connection: Connection) -> None:
    """The full-text index rebuilt: split at spaces only, with the teaser and text apart."""
    connection.execute(text("DROP TABLE articles_fts"))
    connection.execute(text(_CREATE_INDEX))
    count = connection.execute(text("SELECT count(*) FROM articles")).scalar_one()
    if count:
        log.info("re-indexing %d archived articles for the new full-text index", count)
    last = -1
    while True:
        rows = connection.execute(
            text("SELECT seq, title, teaser, text FROM articles WHERE seq > :last ORDER BY seq LIMIT :n"),
            {"last": last, "n": _REINDEX_CHUNK},
        ).all()
        if not rows:
            return
        values = []
        for row in rows:
            title, body = index_article(row.title, row.teaser, row.text)
            values.append({"seq": row.seq, "title": title, "body": body})
        connection.execute(
            text("INSERT INTO articles_fts(rowid, title, body) VALUES (:seq, :title, :body)"), values
        )
        last = rows[-1].seq


def _v7_to_v8(connection: Connection) -> None:
    """Publication marks: how late in publication the articles stored up to each block reach."""
    connection.execute(
        text("CREATE TABLE publication_marks (block INTEGER NOT NULL PRIMARY KEY, latest DATETIME NOT NULL)")
    )
    connection.execute(
        text(
            "INSERT INTO publication_marks (block, latest) "
            "SELECT block, max(latest) OVER (ORDER BY block) FROM "
            "(SELECT seq / :size AS block, max(published) AS latest FROM articles GROUP BY seq / :size)"
        ),
        {"size": MARK_BLOCK},
    )


def _v8_to_v9(connection: Connection) -> None:
    """Whether an article's story has other articles, kept on the article for search."""
    connection.execute(text("ALTER TABLE articles ADD COLUMN shared INTEGER NOT NULL DEFAULT 0"))
    connection.execute(
        text(
            "UPDATE articles SET shared = 1 WHERE story IN "
            "(SELECT story FROM articles GROUP BY story HAVING count(*) > 1)"
        )
    )


def _v9_to_v10(connection: Connection) -> None:
    """Until when, and by which kind of process, an alert row is being sent (cleared when marked)."""
    connection.execute(text("ALTER TABLE alerts ADD COLUMN claimed_until DATETIME"))
    connection.execute(text("ALTER TABLE alerts ADD COLUMN claimed_by VARCHAR"))


def _v10_to_v11(connection: Connection) -> None:
    """Entries looked up by their text's hash within a source (see SqlArchive.known_entries)."""
    connection.execute(text("CREATE INDEX articles_source_content ON articles (source, content_hash)"))


def _v11_to_v12(connection: Connection) -> None:
    """Each source's boilerplate shingles; story band keys of densified fingerprints in three-bin
    bands (stories.band_keys), recomputed for the articles still in the band index."""
    connection.execute(text("ALTER TABLE sources ADD COLUMN boilerplate BLOB"))
    rows = connection.execute(
        text(
            "SELECT DISTINCT a.id, b.fetched, a.fingerprint FROM story_bands b "
            "JOIN articles a ON a.id = b.article_id WHERE a.fingerprint IS NOT NULL"
        )
    ).all()
    connection.execute(text("DELETE FROM story_bands"))
    values = [
        {"band": band, "article_id": row.id, "fetched": row.fetched}
        for row in rows
        for band in band_keys(unpack(row.fingerprint))
    ]
    if values:
        connection.execute(
            text("INSERT INTO story_bands (band, article_id, fetched) VALUES (:band, :article_id, :fetched)"),
            values,
        )


def _v12_to_v13(connection: Connection) -> None:
    """A source's articles read newest first (SqlArchive.recent_texts); band keys for the
    articles of the archive's last 30 days that have none (the v12 upgrade recomputed only those
    that had some, so short articles were left out). Purge drops those older than the story
    window."""
    connection.execute(text("CREATE INDEX articles_source_seq ON articles (source, seq)"))
    newest = connection.execute(select(func.max(articles.c.fetched))).scalar_one()
    if newest is None:
        return
    since = newest - timedelta(days=30)
    banded = select(story_bands.c.article_id).where(story_bands.c.article_id == articles.c.id)
    unbanded = select(articles.c.id, articles.c.fetched, articles.c.fingerprint).where(
        articles.c.fingerprint.is_not(None), articles.c.fetched >= since, ~banded.exists()
    )
    # In batches: an archive of a few hundred thousand recent articles makes millions of keys.
    rows = connection.execution_options(yield_per=_REINDEX_CHUNK).execute(unbanded)
    for batch in rows.partitions():
        values = [
            {"band": band, "article_id": row.id, "fetched": row.fetched}
            for row in batch
            for band in band_keys(unpack(row.fingerprint))
        ]
        if values:
            connection.execute(insert(story_bands), values)


# UPGRADES[n] brings version n + 1 to version n + 2.
UPGRADES: list[Callable[[Connection], None]] = [
    _v1_to_v2,
    _v2_to_v3,
    _v3_to_v4,
    _v4_to_v5,
    _v5_to_v6,
    _v6_to_v7,
    _v7_to_v8,
    _v8_to_v9,
    _v9_to_v10,
    _v10_to_v11,
    _v11_to_v12,
    _v12_to_v13,
]
LEGACY_LATEST = len(UPGRADES) + 1
ALEMBIC = LEGACY_LATEST + 1


# PRAGMA application_id of every archive the monitor made ("MoNi"): what tells our file apart
# from someone else's before anything is written to it.
APPLICATION_ID = 0x4D6F4E69
_OUR_TABLES = {"sources", "articles", "alerts", "articles_fts"}


def is_current(connection: Connection) -> bool:
    """Whether the schema is the newest and marked as ours: then opening the archive writes
    nothing (reading must work on a full disk)."""
    version = int(connection.execute(text("PRAGMA user_version")).scalar_one())
    application_id = int(connection.execute(text("PRAGMA application_id")).scalar_one())
    return version == ALEMBIC and application_id == APPLICATION_ID and is_newest(connection)


def migrate(connection: Connection) -> None:
    """Bring the schema to the newest revision. Refuses, unchanged, an archive of a newer monitor
    (and, with refuse_foreign before it, a database that the monitor did not make)."""
    version = int(connection.execute(text("PRAGMA user_version")).scalar_one())
    if version > ALEMBIC:
        raise ArchiveError(
            f"the archive has schema version {version}, newer than this program knows "
            f"({ALEMBIC}): upgrade the monitor"
        )
    from monitor.archive import schema  # Alembic: only when there is something to do

    if 0 < version < ALEMBIC:
        if version < LEGACY_LATEST:
            log.info("upgrading the archive from schema version %d to %d", version, LEGACY_LATEST)
        for step in range(version, LEGACY_LATEST):
            UPGRADES[step - 1](connection)
        schema.stamp(connection, schema.BASELINE)
    schema.upgrade(connection)
    connection.execute(text(f"PRAGMA user_version = {ALEMBIC}"))
    connection.execute(text(f"PRAGMA application_id = {APPLICATION_ID}"))


def refuse_foreign(path: Path) -> None:
    """Raise ArchiveError, touching nothing, unless the file is ours: marked with our application
    id, or empty (no tables, no version), or (made before the mark) holding our tables at a
    version of ours. Read-only and before the engine opens it, which would already switch the
    file to WAL."""
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=engine.BUSY_SECONDS
        )
        try:
            application_id = int(connection.execute("PRAGMA application_id").fetchone()[0])
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            tables = {
                row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            connection.close()
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise ArchiveError(f"another process holds it locked ({error}); try again") from None
        raise ArchiveError(
            f"this file cannot be read as a SQLite database ({error}): it is left unchanged"
        ) from None
    except sqlite3.DatabaseError as error:
        raise ArchiveError(
            f"this file is not a readable SQLite database ({error}): it is left unchanged"
        ) from None
    if application_id == APPLICATION_ID:
        return
    if application_id == 0 and ((not tables and version == 0) or (tables >= _OUR_TABLES and version > 0)):
        return
    shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
    raise ArchiveError(
        "this database was not made by the monitor "
        + (f"(application id {application_id:#x}) " if application_id else "")
        + (f"(it holds tables {shown})" if tables else "")
        + ": it is left unchanged; point storage.url at a new file"
    )
