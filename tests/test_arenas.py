from __future__ import annotations

import subprocess
import sys

import pytest

from monitor.runtime.arenas import limit_malloc_arenas


def test_the_environment_decides_when_it_sets_the_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_threads_share_the_capped_arenas() -> None:
    """Eight threads allocating in a fresh process: with the cap, fewer mappings with guard
    pages (thread arenas are 64 MiB reservations, mostly guard) than with glibc's default."""
    script = """
import threading
from monitor.runtime.arenas import limit_malloc_arenas
assert limit_malloc_arenas(2)
def churn():
    for _ in range(2000):
        blocks = [bytearray(3000) for _ in range(50)]
        del blocks
threads = [threading.Thread(target=churn) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
maps = open("/proc/self/maps").read().splitlines()
print(sum(1 for line in maps if line.endswith("---p 00000000 00:00 0") or " ---p 00000000 00:00 0 " in line))
"""
    capped = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    default = subprocess.run(
        [sys.executable, "-c", script.replace("assert limit_malloc_arenas(2)", "")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(capped.stdout) < int(default.stdout)
