"""Indexing stored articles again, as a poll indexes them now, when the matcher has come to read
some characters otherwise: only the articles holding one of those characters (or a form NFKC
brings to one: ﺓ is ة) are read, found by a scan of their text (a GLOB on SQLite, a regular
expression on PostgreSQL)."""

from __future__ import annotations

import logging
import sys
import time
import unicodedata
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from monitor.archive.pg_text import LONGEST_LEXEME, WORDS, search_vector
from monitor.archive.revisions import on_postgresql
from monitor.archive.tables import UtcDateTime
from monitor.near_duplicates import article_shingles, band_keys, fingerprint_hashes, pack, unpack_shingles
from monitor.phrases import counted
from monitor.rules.text import CJK_CLASS, index_article, tokenize

log = logging.getLogger(__name__)
_AT_ONCE = 500
RECENT_STORIES = timedelta(days=30)  # story windows are days (stories.window: 3 by default)


def with_compatibility_forms(characters: str) -> str:
    """The characters, and every character NFKC makes one of them with (presentation forms,
    ligatures, compatibility ideographs): the tokenizer reads those as the characters."""
    wanted = set(characters)
    forms = {
        char
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF
        and not wanted.isdisjoint(unicodedata.normalize("NFKC", char := chr(code)))
    }
    return "".join(sorted(wanted | forms))


def index_again_articles_holding(characters: str) -> None:
    """Index again each article whose title, teaser or text holds one of these characters."""
    started = time.monotonic()
    connection = op.get_bind()
    postgresql = on_postgresql()
    held = with_compatibility_forms(characters)
    # GLOB, SQLite's: case-sensitive and by character, as a character class needs.
    holds, pattern = ("{} ~ :chars", f"[{held}]") if postgresql else ("{} GLOB :chars", f"*[{held}]*")
    condition = " OR ".join(holds.format(field) for field in ("title", "teaser", "text"))
    found = list(
        connection.execute(
            sa.text(f"SELECT seq FROM articles WHERE {condition}"), {"chars": pattern}
        ).scalars()
    )
    read = sa.text("SELECT seq, title, teaser, text FROM articles WHERE seq IN :seqs").bindparams(
        sa.bindparam("seqs", expanding=True)
    )
    if postgresql:
        write = sa.text(
            "UPDATE articles SET search = CAST(:vector AS tsvector), search_gaps = :gaps WHERE seq = :seq"
        )
    else:
        write = sa.text("UPDATE articles_fts SET title = :title, body = :body WHERE rowid = :seq")
    for start in range(0, len(found), _AT_ONCE):
        values = []
        for seq, title, teaser, text in connection.execute(read, {"seqs": found[start : start + _AT_ONCE]}):
            indexed_title, body = index_article(title, teaser or "", text or "")
            if postgresql:
                vector, gaps = search_vector(indexed_title, body)
                values.append({"seq": seq, "vector": vector, "gaps": gaps})
            else:
                values.append({"seq": seq, "title": indexed_title, "body": body})
        if values:
            connection.execute(write, values)
    _fingerprint_again(connection, found)
    # A new archive passes every revision: nothing to say when none was indexed again.
    log.log(
        logging.INFO if found else logging.DEBUG,
        "%s indexed again in %.1f s (the rules' matches stored with them are as they were)",
        counted(len(found), "article"),
        time.monotonic() - started,
    )


# The most bytes one character of a text becomes in a token (NFKC and case folding: U+0F77 and
# U+0F79 become 9; tests/archive/test_reindex_revisions.py checks every character).
MOST_TOKEN_BYTES_PER_CHARACTER = 9
# A token past LONGEST_LEXEME is made of at least this many characters, in a run with no white
# space and no CJK character (each of those is a token of its own).
_LONG_RUN = -(-(LONGEST_LEXEME + 1) // MOST_TOKEN_BYTES_PER_CHARACTER)


def flag_articles_missing_words() -> None:
    """On PostgreSQL, index again each article whose index lacks a word and does not say so: one
    holding a word over LONGEST_LEXEME stored before its gaps said WORDS (revision r22). Only the
    articles with a run of characters long enough to make such a word are read, found by a
    regular expression, and only those whose gaps change are written."""
    started = time.monotonic()
    connection = op.get_bind()
    run = f"[^ \t\n\r\f\v{CJK_CLASS}]{{{_LONG_RUN}}}"
    condition = " OR ".join(f"{field} ~ :run" for field in ("title", "teaser", "text"))
    found = list(
        connection.execute(
            sa.text(f"SELECT seq FROM articles WHERE search_gaps < :words AND ({condition})"),
            {"words": WORDS, "run": run},
        ).scalars()
    )
    read = sa.text(
        "SELECT seq, title, teaser, text, search_gaps FROM articles WHERE seq IN :seqs"
    ).bindparams(sa.bindparam("seqs", expanding=True))
    write = sa.text(
        "UPDATE articles SET search = CAST(:vector AS tsvector), search_gaps = :gaps WHERE seq = :seq"
    )
    changed = 0
    for start in range(0, len(found), _AT_ONCE):
        values = []
        for seq, title, teaser, text, stored in connection.execute(
            read, {"seqs": found[start : start + _AT_ONCE]}
        ):
            vector, gaps = search_vector(*index_article(title, teaser or "", text or ""))
            if gaps != stored:
                values.append({"seq": seq, "vector": vector, "gaps": gaps})
        if values:
            connection.execute(write, values)
            changed += len(values)
    log.log(
        logging.INFO if changed else logging.DEBUG,
        "%s indexed again in %.1f s, of %s read: a word too long for the index is said missing",
        counted(changed, "article"),
        time.monotonic() - started,
        counted(len(found), "article"),
    )


def _fingerprint_again(connection: sa.Connection, seqs: list[int]) -> None:
    """The story fingerprints and band keys of those of the articles fetched in the last
    RECENT_STORIES: a copy of one of their stories arriving after the upgrade is fingerprinted
    with the characters read anew, and would be a story of its own, alerted again, if they kept
    theirs. As a poll makes them: title and text (the teaser without one), less the source's
    boilerplate."""
    since = datetime.now(UTC) - RECENT_STORIES
    read = sa.text(
        "SELECT id, source, title, teaser, text, fetched FROM articles "
        "WHERE seq IN :seqs AND fetched >= :since"
    ).bindparams(sa.bindparam("seqs", expanding=True), sa.bindparam("since", type_=UtcDateTime()))
    boilerplate = {
        name: unpack_shingles(blob)
        for name, blob in connection.execute(
            sa.text("SELECT name, boilerplate FROM sources WHERE boilerplate IS NOT NULL")
        )
    }
    for start in range(0, len(seqs), _AT_ONCE):
        rows = connection.execute(read, {"seqs": seqs[start : start + _AT_ONCE], "since": since}).all()
        prints, bands = [], []
        for key, source, title, teaser, text, fetched in rows:
            shingles = article_shingles(tokenize(title).tokens, tokenize(text or teaser or "").tokens)
            fingerprint = fingerprint_hashes(shingles - boilerplate.get(source, frozenset()))
            prints.append({"id": key, "fingerprint": pack(fingerprint) if fingerprint else None})
            bands += [{"band": band, "id": key, "fetched": fetched} for band in band_keys(fingerprint or ())]
        if not rows:
            continue
        connection.execute(sa.text("UPDATE articles SET fingerprint = :fingerprint WHERE id = :id"), prints)
        connection.execute(
            sa.text("DELETE FROM story_bands WHERE article_id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": [row.id for row in rows]},
        )
        if bands:
            connection.execute(
                sa.text("INSERT INTO story_bands (band, article_id, fetched) VALUES (:band, :id, :fetched)"),
                bands,
            )
