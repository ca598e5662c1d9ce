"""Revisions r18 and r19: articles stored while the index read some characters apart (Arabic
letters written for one another, Hong Kong's variants of Traditional characters) are indexed
again as the matcher now reads them, on both backends; the other articles' index is left as it
was."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import opencc
import pytest
from sqlalchemy import text

from monitor.archive import SearchFilters
from monitor.archive.schema import upgrade
from monitor.archive.schema_revision import NEWEST_REVISION
from monitor.archive.sql import SqlArchive
from monitor.near_duplicates import band_keys, fingerprint, unpack
from monitor.phrases import counted
from monitor.rules import parse_query
from monitor.rules.text import HONG_KONG_VARIANTS
from tests.archive.helpers import BACKENDS, archive_and_engine, make_article

UNTOUCHED = "sentinel words"  # an article's index set aside, to see it is not rewritten
# (revision the archive was at, its articles' texts and the index an older monitor wrote of
# each, {query: articles found once indexed again})
CASES = {
    "arabic": (
        "r17_language_tags",
        {
            "ta marbuta": ("اعترضت القبة الحديدية الصواريخ", "اعترضت القبة الحديدية الصواريخ"),
            "tatweel": ("صور القبـة الحديـدية", "صور القبـة الحديـدية"),
            "presentation forms": ("ﺍﻟﻘﺒﺔ ﺍﻟﺤﺪﻳﺪﻳﺔ", "ﺍﻟﻘﺒﺔ ﺍﻟﺤﺪﻳﺪﻳﺔ"),
            "persian": ("خانۀ کشور F-۳۵", "خانۀ کشور f ۳۵"),
            "english": ("The Iron Dome battery", UNTOUCHED),
        },
        {
            '"القبة الحديدية"': {"ta marbuta", "tatweel", "presentation forms"},
            '"القبه الحديديه"': {"ta marbuta", "tatweel", "presentation forms"},
            '"خانه كشور"': {"persian"},
            "F-35": {"persian"},
        },
    ),
    "hong kong": (
        "r18_arabic_letters",
        {
            "variant": ("保衞香港的計劃", "保 衞 香 港 的 计 划"),
            "standard": ("衛星", UNTOUCHED),
        },
        {"保衛": {"variant"}, "保卫香港": {"variant"}},
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_articles_with_characters_now_read_otherwise_are_indexed_again(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    before, articles, queries = CASES[case]
    with archive_and_engine(request, tmp_path, backend) as (archive, engine):
        archive.store_new(
            [make_article(key, title="x", text=body) for key, (body, _) in articles.items()], []
        )
        with engine.begin() as connection:
            for key, (_, old_index) in articles.items():
                if backend == "sqlite":
                    connection.execute(
                        text(
                            "UPDATE articles_fts SET body = :body "
                            "WHERE rowid = (SELECT seq FROM articles WHERE id = :id)"
                        ),
                        {"body": old_index, "id": key},
                    )
                else:
                    connection.execute(
                        text("UPDATE articles SET search = to_tsvector('simple', :body) WHERE id = :id"),
                        {"body": old_index, "id": key},
                    )

        def found(query: str) -> set[str]:
            return {item.article.id for item in archive.search(parse_query(query), SearchFilters(limit=10))}

        assert all(found(query) == set() for query in queries)  # the old index: read apart
        assert len(found("sentinel")) == 1
        with engine.begin() as connection, caplog.at_level(logging.INFO):
            connection.execute(text("UPDATE alembic_version SET version_num = :before"), {"before": before})
            upgrade(connection)
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == (
                NEWEST_REVISION
            )
        reindexed = [
            record.getMessage() for record in caplog.records if "indexed again" in record.getMessage()
        ]
        expected = counted(len(articles) - 1, "article")  # all but the one set aside
        assert any(message.startswith(f"{expected} indexed again in ") for message in reindexed), reindexed
        assert {query: found(query) for query in queries} == queries
        assert len(found("sentinel")) == 1  # none of the characters: its index was not rewritten


def test_hong_kong_variants_are_where_the_folds_differ() -> None:
    """r19 indexed again the articles holding the characters hk2s folds otherwise than t2s did: if
    an OpenCC release changed that, the archive's older articles would need another revision."""
    hong_kong, traditional = opencc.OpenCC("hk2s"), opencc.OpenCC("t2s")
    ideographs = [*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000), *range(0xF900, 0xFB00)]
    differing = {
        chr(code) for code in ideographs if hong_kong.convert(chr(code)) != traditional.convert(chr(code))
    }
    assert differing == set(HONG_KONG_VARIANTS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_recent_articles_indexed_again_are_fingerprinted_again(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """A copy of a recent story arriving after the upgrade joins it (a review saw it alerted
    again: the story's article kept a fingerprint of the letters read apart)."""
    title, body = "خبر عاجل", "اعترضت القبة الحديدية الصواريخ فوق المدينة صباح اليوم وقال الجيش إن"
    fresh = fingerprint(title, body)
    assert fresh is not None
    with archive_and_engine(request, tmp_path, backend) as (archive, engine):
        now = datetime.now(UTC)
        archive.store_new(
            [make_article("recent", title=title, text=body, fetched=now, fingerprint=fresh)], []
        )
        with engine.begin() as connection:
            connection.execute(text("UPDATE articles SET fingerprint = NULL"))
            connection.execute(text("DELETE FROM story_bands"))
            connection.execute(text("UPDATE alembic_version SET version_num = 'r17_language_tags'"))
            upgrade(connection)
            stored = connection.execute(text("SELECT fingerprint FROM articles")).scalar_one()
            bands = set(connection.execute(text("SELECT band FROM story_bands")).scalars())
        assert unpack(bytes(stored)) == fresh
        assert bands == set(band_keys(fresh))


def test_a_new_archive_says_nothing_of_indexing_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by a review: every new archive logged "0 articles indexed again" once a revision."""
    with caplog.at_level(logging.INFO, logger="monitor"):
        SqlArchive(f"sqlite:///{tmp_path / 'new.db'}").close()
    assert "indexed again" not in caplog.text
