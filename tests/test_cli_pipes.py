"""The command line as a Unix tool: a reader that stops early (`| head`) ends it quietly."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.configs import monitor_config


def test_a_reader_that_stops_early_ends_the_output_quietly(tmp_path: Path) -> None:
    rules = [{"name": f"rule {number}", "terms": [f"term {number}"]} for number in range(3000)]
    config = monitor_config(tmp_path, storage=None, watch=rules, sources=[])
    command = f"{sys.executable} -m monitor -c {config} check | head -n 1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.startswith(f"{config}: ok")
    assert done.stderr == "", done.stderr  # no BrokenPipeError traceback
    assert done.returncode == 128 + signal.SIGPIPE  # as `yes | head` ends under pipefail
