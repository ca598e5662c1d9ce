"""`monitor archive stats` and `monitor archive backup PATH`, as INTERFACE.md lists them, on an
archive filled by a real poll: SQLite, and PostgreSQL in a schema of its own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from monitor.archive.backup import _libpq
from tests.configs import write_config
from tests.conftest import Cli
from tests.serve.conftest import free_port


def _at(config: Path, url: str, name: str) -> Path:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["storage"] = {"url": url}
    return write_config(config.with_name(name), data)


def test_stats_say_what_the_archive_holds_and_a_backup_holds_the_same(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    assert cli("-c", str(config), "once")[0] == 0
    held = cli.json("-c", str(config), "archive", "stats", "--format", "json")
    found = cli.json("-c", str(config), "search", "", "--limit", "1000", "--format", "json")
    assert held["backend"] == "sqlite" and held["bytes"] > 0
    assert held["rows"]["articles"] == len(found) > 0
    assert sum(held["sources"].values()) == len(found)
    assert held["articles_matched"] == len([article for article in found if article["rules"]])
    assert held["first_published"] <= held["last_published"]
    code, out, _ = cli("-c", str(config), "archive", "stats")
    assert code == 0 and f"articles {len(found):,}" in out

    backup = tmp_path / "backup.db"
    code, out, err = cli("-c", str(config), "archive", "backup", str(backup))
    assert code == 0, err
    assert f"to {backup}" in out and not Path(f"{backup}.partial").exists()
    copy = _at(config, f"sqlite:///{backup}", "backup.yaml")
    assert cli.json("-c", str(copy), "archive", "stats", "--format", "json")["rows"] == held["rows"]
    assert cli.json("-c", str(copy), "search", "", "--limit", "1000", "--format", "json") == found
    code, _, err = cli("-c", str(config), "archive", "backup", str(backup))
    assert code == 2 and "exists: a backup goes to a new file, never over one" in err


def test_a_postgresql_archive_is_counted_and_dumped(
    cli: Cli, config: Path, tmp_path: Path, postgres_url: str, postgres_schema: str
) -> None:
    assert cli("-c", str(config), "once")[0] == 0
    target = f"{postgres_url}?options=-csearch_path%3D{postgres_schema}"
    assert cli("-c", str(config), "archive", "copy", "--to", target)[0] == 0
    there = _at(config, target, "postgresql.yaml")
    held = cli.json("-c", str(there), "archive", "stats", "--format", "json")
    assert held["backend"] == "postgresql" and held["bytes"] > 0
    assert held["rows"] == cli.json("-c", str(config), "archive", "stats", "--format", "json")["rows"]

    dump = tmp_path / "archive.dump"
    code, out, err = cli("-c", str(there), "archive", "backup", str(dump))
    assert code == 0, err
    assert "pg_restore" in out
    pg_restore = shutil.which("pg_restore")
    assert pg_restore is not None  # PostgreSQL's client tools, as pg_dump
    listing = subprocess.run(
        [pg_restore, "--list", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    assert f"TABLE DATA {postgres_schema} articles" in listing


def test_a_backup_refuses_the_archives_own_files_and_a_missing_archive(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    code, _, err = cli("-c", str(config), "archive", "stats")
    assert code == 2 and "yet (`monitor once` or `monitor run` makes it" in err
    # The commands that read the archive make none: one made at a path the daemon does not use
    # (another config's) answered every search with nothing, without a word, from then on.
    for command in (["search", "dome"], ["sources"], ["alerts"], ["alerts", "retry", "--failed"]):
        code, _, err = cli("-c", str(config), *command)
        assert code == 0 and "makes it; is storage.url the daemon's?): read as an empty one" in err, command
    listed = cli.json("-c", str(config), "sources", "--format", "json")
    assert listed and {source["status"] for source in listed} == {"new: not polled yet"}
    code, _, err = cli("-c", str(config), "search", "dome", "--lang", "english")
    assert code == 2 and "give a language code" in err  # the search is checked as ever
    (config.parent / "data" / "monitor.db").mkdir(parents=True)  # a folder where the file goes
    serve = ["serve", "--listen", f"127.0.0.1:{free_port()}"]
    for command in (serve, ["search", "dome"], ["archive", "stats"]):
        code, _, err = cli("-c", str(config), *command)
        assert code == 2 and "monitor.db is a folder: storage.url names a file" in err, (command, err)
    (config.parent / "data" / "monitor.db").rmdir()
    code, _, err = cli("-c", str(config), "backfill", "Iron Dome")
    assert code == 2 and "makes it; is storage.url the daemon's?): nothing to backfill" in err
    assert not list(config.parent.rglob("*.db"))
    assert cli("-c", str(config), "once")[0] == 0
    archive = next(config.parent.rglob("monitor.db"))
    code, _, err = cli("-c", str(config), "archive", "backup", f"{archive}-wal")
    assert code == 2 and "is one of the archive's own files" in err
    code, _, err = cli("-c", str(config), "archive", "backup", str(tmp_path))
    assert code == 2 and "is a folder" in err
    code, _, err = cli("-c", str(config), "archive", "backup", str(tmp_path / "backups" / "today.db"))
    assert code == 2 and "there is no folder" in err and "backups' to back up into: make it first" in err
    assert not list(tmp_path.glob("*.partial")) and not list(archive.parent.glob("*.partial"))


def test_pg_dump_is_given_the_password_in_its_environment_not_its_command_line() -> None:
    """Found by a review: the password was in pg_dump's arguments, which `ps` shows anyone."""
    address, password = _libpq(
        "postgresql+psycopg://desk:p%40ss@db.example:5432/news?options=-csearch_path%3Dmon"
    )
    assert (address, password) == (
        "postgresql://desk@db.example:5432/news?options=-csearch_path%3Dmon",
        "p@ss",
    )
    assert _libpq("postgresql://desk@db/news?password=s3cret&sslmode=require") == (
        "postgresql://desk@db/news?sslmode=require",
        "s3cret",
    )
