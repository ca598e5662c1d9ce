"""Politeness: a bound on concurrent requests per host and a gap between their starts."""

from __future__ import annotations

import itertools
from pathlib import Path

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
