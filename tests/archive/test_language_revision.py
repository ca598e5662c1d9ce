"""Revision r17: languages stored before the monitor read three-letter codes, names and whole
<html lang> values are brought to the codes the filters read, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.archive import SearchFilters
from monitor.archive.schema import upgrade
from tests.archive.helpers import BACKENDS, archive_and_engine, make_article

STORED = {
    "a": "eng",
    "b": "English",
    "c": "und",
    "d": "en-us",
    "e": "iw",
    "f": None,
    "g": "zh_TW",
    "h": "utf",
}
# c and h said no language: theirs is told from the text, as a poll now does.
NOW_READ = {"a": "en", "b": "en", "c": "en", "d": "en-US", "e": "he", "f": None, "g": "zh-TW", "h": "en"}
TEXT = "The delegation toured an Iron Dome battery near the coast and met the engineers there."


@pytest.mark.parametrize("backend", BACKENDS)
def test_older_language_tags_are_brought_to_codes(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    with archive_and_engine(request, tmp_path, backend) as (archive, engine):
        archive.store_new(
            [make_article(key, text=TEXT, language=tag, hits=()) for key, tag in STORED.items()], []
        )
        assert archive.search(None, SearchFilters(language="en", limit=10))[0].article.id == "d"
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'r16_host_turns'"))
            upgrade(connection)
            rows = connection.execute(text("SELECT id, language FROM articles")).all()
        languages = {key: language for key, language in rows}
        assert languages == NOW_READ
        found = archive.search(None, SearchFilters(language="en", limit=10))
        assert {item.article.id for item in found} == {"a", "b", "c", "d", "h"}
