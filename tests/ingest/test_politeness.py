"""Politeness: a bound on concurrent requests per host and a gap between their starts (across
daemons sharing an archive: tests/test_shared_archive.py)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.archive import HostTurn
from monitor.errors import ArchiveError
from monitor.ingest.fetch.turns import HostGate
from tests import fixtures
from tests.configs import monitor_config
from tests.conftest import Cli
from tests.servers import Route, Site


def config_for(tmp_path: Path, site: Site, fetch: dict[str, object]) -> Path:
    for n in range(8):
        site.routes[f"/f{n}.xml"] = Route(fixtures.rss([]), delay=0.3)
    sources = [{"name": f"F{n}", "url": site.url(f"/f{n}.xml")} for n in range(8)]
    return monitor_config(tmp_path, storage="sqlite:///m.db", fetch=fetch, sources=sources)


def test_at_most_per_host_requests_at_once(cli: Cli, tmp_path: Path, site: Site) -> None:
    cli("-c", str(config_for(tmp_path, site, {"per_host": 2, "host_gap": "0s"})), "once")
    assert len(site.started) == 8
    assert site.max_active == 2


def test_requests_to_one_host_start_apart(cli: Cli, tmp_path: Path, site: Site) -> None:
    cli("-c", str(config_for(tmp_path, site, {"per_host": 8, "host_gap": "200ms"})), "once")
    starts = sorted(site.started)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(starts) == 8 and min(gaps) >= 0.15, gaps


class _UnreachableArchive:
    """Shared turns from an archive whose database stopped answering."""

    def __init__(self) -> None:
        self.asked = 0

    def take(self, host: str, per_host: int, gap: timedelta, hold: timedelta) -> HostTurn | None:
        self.asked += 1
        raise ArchiveError("taking a turn at a host: cannot write the archive: connection refused")

    def release(self, turn: HostTurn) -> None:
        raise AssertionError("nothing was taken")


def test_turns_go_on_in_this_process_when_the_shared_archive_fails(caplog: pytest.LogCaptureFixture) -> None:
    archive = _UnreachableArchive()
    gate = HostGate(1, 0.1, archive)

    async def three_requests() -> list[float]:
        loop = asyncio.get_running_loop()
        starts = []
        for _ in range(3):
            slot = await gate.acquire("http://news.test/feed.xml")
            starts.append(loop.time())
            slot.release()
        return starts

    with caplog.at_level(logging.WARNING):
        starts = asyncio.run(three_requests())
    assert [round(later - earlier, 1) for earlier, later in itertools.pairwise(starts)] == [0.1, 0.1]
    assert archive.asked == 3  # asked again each time: the archive may be back
    assert caplog.text.count("per-host turns are this daemon's own until the archive answers") == 1
