"""Articles past what PostgreSQL's full-text index holds (pg_text.py: a word over 2,047 bytes, a
vector over 1 MB) are stored, said to have gaps and found as the matcher finds them, on both
backends; revision r22 says so of such articles stored before."""

from __future__ import annotations

import logging
import random
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.archive import Archive, SearchFilters
from monitor.archive.pg_text import MOST_BYTES, WORDS, search_vector
from monitor.archive.revisions.reindexing import MOST_TOKEN_BYTES_PER_CHARACTER
from monitor.archive.schema import upgrade
from monitor.rules import parse_query
from monitor.rules.text import index_article, tokenize
from tests.archive.helpers import BACKENDS, archive_and_engine, make_article


def _found(archive: Archive, query: str) -> list[str]:
    return sorted(item.article.id for item in archive.search(parse_query(query), SearchFilters(limit=50)))


def test_a_text_of_more_bytes_than_a_vector_holds_is_stored_with_its_batch(archive: Archive) -> None:
    """Found by a review: the vector's size was counted in characters; 363,000 characters of
    Thai are 1.08 MB, which PostgreSQL refused, and the whole batch with it (the poll's other
    articles lost, and lost again at each poll)."""
    rng = random.Random(5)
    letters = [chr(code) for code in range(0x0E01, 0x0E2F)]
    clauses = ["".join(rng.choice(letters) for _ in range(rng.randint(30, 80))) for _ in range(6500)]
    thai = make_article("thai", title="Report", text=" ".join(clauses), hits=())
    archive.store_new([make_article("plain", title="Report", text="dome", hits=()), thai], [])
    assert _found(archive, "dome") == ["plain"]
    assert _found(archive, clauses[0]) == ["thai"]
    assert _found(archive, clauses[-1]) == ["thai"]  # past what the vector keeps: read apart
    vector, gaps = search_vector(*index_article("", "", " ".join(clauses)))
    assert len(vector.encode()) <= MOST_BYTES and gaps == WORDS


def test_a_word_too_long_beside_a_vector_without_positions_is_said_missing(archive: Archive) -> None:
    """Found by a review: a text whose vector fit only without its positions was said to miss
    positions alone, though a word over 2,047 bytes was left out: `NOT b*` took it."""
    words = " ".join(f"w{number:060d}" for number in range(13_500))
    archive.store_new(
        [
            make_article("big", title="Report", text=f"dome {words} {'b' * 2048}", hits=()),
            make_article("small", title="Report", text="dome kalo", hits=()),
        ],
        [],
    )
    assert _found(archive, "NOT b*") == ["small"]
    assert _found(archive, "dome -b*") == ["small"]
    assert _found(archive, "dome AND NOT bb*") == ["small"]
    assert _found(archive, "b*") == ["big"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_articles_stored_before_their_gaps_said_so_are_flagged(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by a review: articles stored before 59b73c4 held a word over 2,047 bytes the index
    left out while it said it lacked nothing; once the index answered NOTs, `NOT ab*` took
    them. Revision r22 reads the articles with a run of characters long enough to make such a
    word and says so of those that hold one; a Chinese text, however long its runs, is not one."""
    articles = {
        "hexdump": "dome firmware " + "ab" * 1500,
        "plain": "dome firmware",
        "chinese": "國防部表示" * 200,  # a run of 1,000 characters, each a token of its own
    }
    with archive_and_engine(request, tmp_path, backend) as (archive, engine):
        archive.store_new(
            [make_article(key, title="Notes", text=body, hits=()) for key, body in articles.items()], []
        )
        if backend == "postgresql":
            with engine.begin() as connection:  # as an older monitor stored them
                connection.execute(text("UPDATE articles SET search_gaps = 0"))
        with engine.begin() as connection, caplog.at_level(logging.INFO):
            connection.execute(text("UPDATE alembic_version SET version_num = 'r21_alerts_newest'"))
            upgrade(connection)
        said = [
            record.getMessage()
            for record in caplog.records
            if "too long for the index" in record.getMessage()
        ]
        if backend == "postgresql":
            assert len(said) == 1 and said[0].startswith("1 article indexed again in "), said
            assert said[0].endswith(" s, of 1 article read: a word too long for the index is said missing")
        else:
            assert said == []  # SQLite's index holds the word
        assert _found(archive, "NOT ab*") == ["chinese", "plain"]
        assert _found(archive, "dome -ab*") == ["plain"]
        assert _found(archive, "firmware AND NOT abab*") == ["plain"]
        assert _found(archive, "ab*") == ["hexdump"]


def test_no_character_makes_more_token_bytes_than_the_revision_counts() -> None:
    """r22 finds the words too long for the index by the runs of characters that can make one:
    a character of the text must not become more bytes of a token than it allows."""
    most = 0
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        tokens = tokenize(chr(code) * 2).tokens
        if tokens:
            most = max(most, max(len(token.encode()) for token in tokens))
    assert most / 2 <= MOST_TOKEN_BYTES_PER_CHARACTER
