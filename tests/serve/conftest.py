"""A real archive served by `monitor serve` as a real process on loopback, for the API's and the
feeds' tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.archive import OutboxRow
from monitor.archive.sql import SqlArchive
from monitor.models import Hit
from tests.archive.helpers import NOW, make_article
from tests.configs import monitor_config

TOKEN = "a-token-nobody-guesses-0123"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def archive_with_articles(folder: Path) -> None:
    """Forty budget stories a minute apart, an Iron Dome story with a copy, a Chinese article
    and one about a stadium's dome, and an alert about the Iron Dome one."""
    archive = SqlArchive(f"sqlite:///{folder / 'data' / 'monitor.db'}")
    try:
        budget = [
            make_article(f"b{n:02d}", title=f"Budget talks {n}", text="Budget talks went on.", hits=(),
                         published=NOW - timedelta(minutes=n))
            for n in range(40)
        ]  # fmt: skip
        dome = make_article("dome", published=NOW + timedelta(hours=1))
        copy = make_article("dome-copy", url="https://wire.test/dome", source="Coast Wire", story="dome")
        shield = make_article(
            "shield", title="台灣之盾 計畫", text="國防部說明台灣之盾的進度。", language="zh",
            hits=(Hit("Taiwan Shield", "台灣之盾", "text", 5, 9, "說明台灣之盾的進度"),),
        )  # fmt: skip
        stadium = make_article("stadium", title="Stadium dome", text="The stadium dome reopened.", hits=())
        # Published lately, counted in the rules' recent matches.
        now = datetime.now(UTC)
        revised = Hit("Japan documents", "安保3文書", "text", 3, 8, "政府は安保3文書を改定")
        recent = [
            make_article(
                key, title="安保3文書", text="政府は安保3文書を改定した。", hits=(revised,), published=when
            )
            for key, when in (
                ("docs-today", now - timedelta(hours=2)),
                ("docs-old", now - timedelta(days=20)),
            )
        ]
        # Markup in what a page gave: it must reach a reader as text, never as markup.
        markup = '<img src=x onerror="window.__xss=1">'
        hostile = make_article(
            "hostile",
            title="<script>window.__xss=1</script>Laser weapon test",
            text=f"Japan tests a laser weapon. {markup}",
            summary=f"Japan tests a laser weapon. {markup}",
            source="<b>Evil</b> Wire",
            published=NOW - timedelta(days=1),
            hits=(Hit("Japan-Israel laser", "laser", "text", 14, 19, f"a laser weapon {markup}"),),
        )
        archive.store_new(
            [*budget, dome, copy, shield, stadium, *recent, hostile],
            [OutboxRow("desk", "webhook:x", "dome", "dome", ("Iron Dome",))],
        )
    finally:
        archive.close()


@dataclass
class Served:
    base: str
    process: subprocess.Popen[str]

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.base + path, params=params, timeout=10)


def start_serving(config: Path, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "-c", str(config), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def wait_until_up(base: str, process: subprocess.Popen[str], headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.communicate()[0]}")
        try:
            httpx.get(base + "/healthz", timeout=1, headers=headers)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not answer within 30 s")


@contextmanager
def serving(config: Path) -> Iterator[str]:
    """`monitor serve` of the config on a free loopback port, answering: its base URL. Stopped
    after, and its exit checked (stop)."""
    port = free_port()
    process = start_serving(config, "serve", "--listen", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    archive_with_articles(folder)
    sources = [
        {"name": name, "url": f"http://127.0.0.1:9/{n}.xml"}
        for n, name in enumerate(["Harbor Daily", "Coast Wire"])
    ]
    config = monitor_config(folder, sources=sources)
    port = free_port()
    process = start_serving(config, "serve", "--listen", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield Served(base, process)
    finally:
        stop(process)
