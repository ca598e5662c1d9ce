"""The JSON Lines channel writes whole lines or nothing, even when the disk fills mid-line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from monitor.alerts.jsonl import JsonlNotifier
from tests.alerts.test_channels import PAYLOAD

# A real process whose file size limit stops the write partway (EFBIG, as with a full disk).
WRITE_WITH_SIZE_LIMIT = """
import asyncio, resource, signal, sys
from pathlib import Path
from monitor.alerts.jsonl import JsonlNotifier
from monitor.errors import NotifyError
from tests.alerts.test_channels import PAYLOAD
path = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = path.stat().st_size + 100
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
try:
    asyncio.run(JsonlNotifier(path).send(PAYLOAD, "k-cut"))
except NotifyError as error:
    print(error)
"""


def send(path: Path, key: str) -> None:
    import asyncio

    asyncio.run(JsonlNotifier(path).send(PAYLOAD, key))


def test_a_write_cut_short_leaves_whole_lines_and_the_retry_appends_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    send(path, "k1")
    before = path.read_bytes()
    cut = subprocess.run(
        [sys.executable, "-c", WRITE_WITH_SIZE_LIMIT, str(path)], capture_output=True, text=True, check=True
    )
    assert "cannot write" in cut.stdout and "File too large" in cut.stdout, cut
    assert path.read_bytes() == before  # the 100 bytes that fit were taken back

    send(path, "k-cut")  # the dispatcher's retry
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["idempotency_key"] for line in lines] == ["k1", "k-cut"]


def test_a_fragment_left_by_a_crash_is_dropped_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    send(path, "k1")
    with path.open("ab") as handle:
        handle.write(b'{"alert_id": "k2", "art')  # killed mid-write
    send(path, "k2")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["idempotency_key"] for line in lines] == ["k1", "k2"]
