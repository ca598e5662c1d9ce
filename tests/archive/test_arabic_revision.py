"""Revision r18: articles stored while the index read Arabic letters written for one another
apart (ة and ه, ى and ي, the tatweel) are indexed again as the matcher reads them, on both
backends; the other articles' index is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.archive import SearchFilters
from monitor.archive.schema import upgrade
from monitor.rules import parse_query
from tests.archive.helpers import BACKENDS, archive_and_engine, make_article

ARTICLES = {
    "ta marbuta": "اعترضت القبة الحديدية الصواريخ",
    "alef maksura": "قال مصطفى إن المنظومة تعمل",
    "tatweel": "صور القبـة الحديـدية",
    "english": "The Iron Dome battery",
}
# The index as a monitor before r18 wrote it: each word as written (less its harakat).
OLD_INDEX = {key: " ".join(words.split()) for key, words in ARTICLES.items()}
UNTOUCHED = "sentinel words"  # the English article's index, set aside to see it is not rewritten


@pytest.mark.parametrize("backend", BACKENDS)
def test_articles_with_arabic_letters_read_as_one_are_indexed_again(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    with archive_and_engine(request, tmp_path, backend) as (archive, engine):
        archive.store_new([make_article(key, title="خبر", text=words) for key, words in ARTICLES.items()], [])
        with engine.begin() as connection:
            for key, words in OLD_INDEX.items():
                indexed = UNTOUCHED if key == "english" else words
                if backend == "sqlite":
                    connection.execute(
                        text(
                            "UPDATE articles_fts SET body = :body "
                            "WHERE rowid = (SELECT seq FROM articles WHERE id = :id)"
                        ),
                        {"body": indexed, "id": key},
                    )
                else:
                    connection.execute(
                        text("UPDATE articles SET search = to_tsvector('simple', :body) WHERE id = :id"),
                        {"body": indexed, "id": key},
                    )

        def found(query: str) -> set[str]:
            return {item.article.id for item in archive.search(parse_query(query), SearchFilters(limit=10))}

        assert found('"القبة الحديدية"') == set()  # the old index: القبة, not القبه
        assert found("sentinel") == {"english"}
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'r17_language_tags'"))
            upgrade(connection)
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == (
                "r18_arabic_letters"
            )
        assert found('"القبة الحديدية"') == found('"القبه الحديديه"') == {"ta marbuta", "tatweel"}
        assert found("مصطفي") == {"alef maksura"}
        assert found("sentinel") == {"english"}  # no Arabic letter: its index was not rewritten
