"""The installed-command checks of tests/smoke.py, on this environment's `monitor` command.

CI runs the same checks on the wheel installed alone (.ci/wheel-check)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.smoke import check_install


@pytest.mark.slow
def test_installed_command_touches_every_lazily_loaded_part(tmp_path: Path) -> None:
    executable = Path(sys.executable).with_name("monitor")
    assert executable.exists(), f"{executable}: the project is not installed in this environment"
    passed = check_install(executable, tmp_path)
    assert len(passed) == 8, passed
