"""A SQLite archive's file deleted, moved or replaced under a running monitor: said at once, and
never brought back as an empty file by the next connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.archive import SearchFilters
from monitor.archive.engine import driver_connection
from monitor.archive.sql import SqlArchive
from monitor.errors import ArchiveError, ArchiveGone
from monitor.rules import parse_query
from tests.archive.helpers import make_article


def _archive(path: Path) -> SqlArchive:
    archive = SqlArchive(f"sqlite:///{path}")
    archive.store_new([make_article("dome")], [])
    return archive


def test_a_deleted_file_is_said_and_not_made_again(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    archive = _archive(path)
    try:
        archive.still_open()
        archive.answers()
        for leftover in (path, path.with_name("monitor.db-wal"), path.with_name("monitor.db-shm")):
            leftover.unlink(missing_ok=True)
        with pytest.raises(ArchiveGone, match=f"{path} was deleted, moved or replaced"):
            archive.still_open()
        with pytest.raises(ArchiveError, match="was deleted, moved or replaced"):
            archive.answers()
        archive.db.engine.dispose()  # what a new connection does, not one the pool kept
        archive.db._read_connections.clear()
        with pytest.raises(ArchiveError, match=f"the archive's file {path} is gone"):
            archive.search(parse_query("dome"), SearchFilters())
        with pytest.raises(ArchiveGone):
            driver_connection(path)
        assert not path.exists()
    finally:
        archive.close()
    assert not path.exists()


@pytest.mark.parametrize("how", ["moved", "replaced"])
def test_a_file_moved_or_replaced_is_said(tmp_path: Path, how: str) -> None:
    path = tmp_path / "monitor.db"
    archive = _archive(path)
    try:
        if how == "moved":
            path.rename(tmp_path / "old.db")
        else:  # a backup put in its place while the monitor ran
            _archive(tmp_path / "backup.db").close()
            (tmp_path / "backup.db").replace(path)
        with pytest.raises(ArchiveGone, match="start it again to open the file there now"):
            archive.still_open()
    finally:
        archive.close()


def test_a_path_with_characters_a_uri_escapes_opens_as_any_other(tmp_path: Path) -> None:
    path = tmp_path / "desk ?#%20 ü" / "monitor.db"
    archive = _archive(path)
    try:
        assert [found.article.id for found in archive.search(parse_query("dome"), SearchFilters())] == [
            "dome"
        ]
        archive.still_open()
    finally:
        archive.close()
    assert sorted(entry.name for entry in path.parent.iterdir())[0] == "monitor.db"
    assert not (tmp_path / "desk ").exists()


def test_a_path_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with pytest.raises(ArchiveError, match=r"cannot open the archive at sqlite:///.*notes\.txt/monitor\.db"):
        SqlArchive(f"sqlite:///{tmp_path / 'notes.txt' / 'monitor.db'}")


@pytest.mark.parametrize("how", ["file", "folder"])
def test_a_link_on_the_path_pointed_elsewhere_is_said(tmp_path: Path, how: str) -> None:
    """Even at the same file under another name: SQLite names the -wal after the name it
    resolves, so two processes would keep two logs of one database (a reviewer lost articles)."""
    real = tmp_path / "real"
    real.mkdir()
    if how == "file":
        path = real / "monitor.db"
        archive = _archive(path)
        path.rename(real / "moved.db")
        path.symlink_to("moved.db")  # the same file, reached by another name
    else:
        link = tmp_path / "link"
        link.symlink_to(real)
        path = link / "monitor.db"
        archive = _archive(path)
        (tmp_path / "other").mkdir()
        link.unlink()
        link.symlink_to(tmp_path / "other")
        _archive(path).close()  # another archive where the link now leads
    try:
        with pytest.raises(ArchiveGone, match="or a link on its path now leads elsewhere"):
            archive.still_open()
    finally:
        archive.close()


def test_a_path_through_links_left_as_they_were_is_no_alarm(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    archive = _archive(tmp_path / "link" / "monitor.db")
    try:
        (tmp_path / "link" / "monitor.db").touch()
        archive.still_open()
        archive.store_new([make_article("more")], [])
        archive.still_open()
    finally:
        archive.close()
