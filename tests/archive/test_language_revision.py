"""Revision r17: languages stored before the monitor read three-letter codes, names and whole
<html lang> values are brought to the codes the filters read, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from monitor.archive import Archive, SearchFilters
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.postgres import engine_url
from monitor.archive.schema import upgrade
from monitor.archive.sql import SqlArchive
from tests.archive.helpers import BACKENDS, make_article
from tests.postgres import new_schema

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


@contextmanager
def _archive(request: pytest.FixtureRequest, folder: Path, backend: str) -> Iterator[tuple[Archive, Engine]]:
    """An archive of the backend, and an engine on its tables."""
    with ExitStack() as stack:
        archive: Archive
        if backend == "sqlite":
            url = f"sqlite:///{folder / 'archive.db'}"
            archive, engine = SqlArchive(url), create_engine(url)
        else:
            url = request.getfixturevalue("postgres_url")
            schema = stack.enter_context(new_schema(url))
            archive = PostgresArchive(url, schema=schema)
            engine = create_engine(engine_url(url), connect_args={"options": f"-csearch_path={schema}"})
        stack.callback(archive.close)
        stack.callback(engine.dispose)
        yield archive, engine


@pytest.mark.parametrize("backend", BACKENDS)
def test_older_language_tags_are_brought_to_codes(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    with _archive(request, tmp_path, backend) as (archive, engine):
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
