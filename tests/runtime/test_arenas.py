"""Our use of glibc's malloc knobs: when the cap on arenas is set, and when freed memory is
given back (glibc's own behaviour is glibc's to test)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.ingest.fetch import turns
from monitor.ingest.fetch.client import Fetcher
from monitor.ingest.fetch.turns import LARGE_BODY
from monitor.net.egress import EgressPolicy
from monitor.runtime import arenas
from monitor.runtime.arenas import limit_malloc_arenas
from tests.configs import monitor_config
from tests.conftest import Cli
from tests.servers import Route, Site


@pytest.fixture
def server() -> Iterator[Site]:
    site = Site()
    yield site
    site.close()


def test_the_environment_decides_when_it_sets_the_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


@pytest.mark.parametrize("command", ["once", "run"])
def test_the_daemon_and_a_single_pass_cap_the_arenas_before_polling(
    command: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capped: list[int] = []

    def cap(count: int = arenas.ARENAS) -> bool:
        capped.append(count)
        return True

    monkeypatch.setattr(arenas, "limit_malloc_arenas", cap)
    config = monitor_config(tmp_path, watch=[])
    if command == "run":
        # The daemon's start is all this test needs: stop it as soon as it has started.
        monkeypatch.setattr("monitor.runtime.scheduler.Daemon.run", _return_at_once)
    code, _, err = cli("-c", str(config), command)
    assert code == 0, err
    assert capped == [arenas.ARENAS]


async def _return_at_once(self: object) -> None:
    return None


def test_freed_memory_is_given_back_after_a_large_body_is_parsed_not_before(
    server: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    released: list[str] = []
    monkeypatch.setattr(turns, "release_free_memory", lambda: released.append("released"))
    server.routes["/large"] = Route(b"<rss>" + b"x" * (LARGE_BODY + 1024) + b"</rss>")
    server.routes["/small"] = Route(b"<rss>small</rss>")

    async def run() -> list[str]:
        fetcher = Fetcher("monitor-test/1", timedelta(seconds=5), 10_000_000, 4)
        seen = []
        try:
            for path in ("/small", "/large"):
                url = server.url(path)
                async with fetcher.fetched(url, policy=EgressPolicy.for_source(url)):
                    seen.append(f"{path} parsed, {len(released)} released")
                seen.append(f"{path} done, {len(released)} released")
        finally:
            await fetcher.close()
        return seen

    assert asyncio.run(run()) == [
        "/small parsed, 0 released",
        "/small done, 0 released",
        "/large parsed, 0 released",
        "/large done, 1 released",
    ]
