"""`monitor search` starts without what it does not use: the daemon's fetchers and extractors,
the web server, the alert channels' HTTP client, Alembic for an archive already at the newest
schema (each command imports its own modules once chosen, cli/main.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.configs import monitor_config

NOT_FOR_A_SEARCH = (
    "alembic",
    "httpx",
    "fastapi",
    "uvicorn",
    "trafilatura",
    "bs4",
    "feedparser",
    "ahocorasick",
)


def _modules_after(config: Path, *command: str) -> list[str]:
    script = (
        "import json, sys\n"
        "from monitor.cli import main\n"
        f"code = main(['-c', {str(config)!r}, *{list(command)!r}])\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0, done.stderr
    return [name for name in modules if name.split(".")[0] in NOT_FOR_A_SEARCH]


def test_a_search_loads_neither_the_daemon_nor_the_server(tmp_path: Path) -> None:
    config = monitor_config(tmp_path, storage=f"sqlite:///{tmp_path / 'archive.db'}", sources=[])
    _modules_after(config, "once")  # makes the archive (a search reads one that is not there as empty)
    assert _modules_after(config, "search", "dome") == []
    assert _modules_after(config, "alerts") == []
