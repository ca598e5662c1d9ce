"""The repository holds what a person wrote, and the lock pins what pyproject.toml asks for."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _declared() -> set[tuple[str, str, str]]:
    """pyproject.toml's requirements as (name, specifier, marker), extras as markers."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {_normal(Requirement(line)) for line in project["dependencies"]}
    for extra, lines in project.get("optional-dependencies", {}).items():
        for line in lines:
            name, specifier, own = _normal(Requirement(line))
            marker = f"extra == '{extra}'"
            found.add((name, specifier, _marker(f"({own}) and {marker}" if own else marker)))
    return found


def _marker(text: str) -> str:
    """One spelling of a marker (uv writes 'win32', packaging "win32")."""
    return str(Marker(text)) if text else ""


def _normal(requirement: Requirement) -> tuple[str, str, str]:
    specifier = ",".join(sorted(str(clause) for clause in requirement.specifier))
    return canonicalize_name(requirement.name), specifier, str(requirement.marker or "")


def _lock() -> dict[str, Any]:
    return tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))


def _locked() -> set[tuple[str, str, str]]:
    """What uv.lock recorded of the project's own requirements when it was resolved."""
    lock = _lock()
    [project] = [package for package in lock["package"] if package["name"] == "monitor"]
    entries: list[dict[str, Any]] = project["metadata"]["requires-dist"]
    return {
        (
            canonicalize_name(entry["name"]),
            ",".join(sorted(clause.strip() for clause in entry.get("specifier", "").split(",") if clause)),
            _marker(entry.get("marker", "")),
        )
        for entry in entries
    }


def test_the_lock_was_made_from_this_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert _lock()["requires-python"] == project["requires-python"], "run `make lock`"
    declared, locked = _declared(), _locked()
    assert declared == locked, (
        f"pyproject.toml and uv.lock disagree; run `make lock`.\n"
        f"only in pyproject.toml: {sorted(declared - locked)}\nonly in uv.lock: {sorted(locked - declared)}"
    )


def test_no_tracked_file_is_ignored() -> None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout (a source archive): nothing is tracked")
    tracked_but_ignored = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not tracked_but_ignored, (
        f"{len(tracked_but_ignored)} tracked files are ignored by .gitignore, "
        f"e.g. {tracked_but_ignored[:3]}: `git rm -r --cached` them"
    )
