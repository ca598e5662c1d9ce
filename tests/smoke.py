"""A user's install, end to end: an installed `monitor` command against loopback servers.

Each check touches a part that loads on first use, so a runtime dependency that only a test
extra brings fails here: article text (trafilatura, justext, lxml_html_clean), an Apprise
channel, e-mail with Jinja2 templates, Traditional/Simplified folding (OpenCC), language
identification (py3langid), and `monitor extract`.

    python -m tests.smoke PATH/TO/bin/monitor      (what `.ci/wheel-check` runs on the wheel)

tests/test_smoke.py runs the same checks on the development install.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller

from tests import fixtures
from tests.servers import Route, Site, WebhookReceiver

HTML = {"Content-Type": "text/html; charset=utf-8"}
TRADITIONAL_TITLE = "國防部評估台灣之盾防空網"
UNDECLARED_TITLE = "防衛省が新たな防空計画を発表"  # a feed with no <language>
UNDECLARED_TEXT = (
    "防衛省は、弾道ミサイルや無人機に対処する新しい防空計画を発表した。"
    "計画では、複数の迎撃システムを統合し、指揮統制を一元化するという。"
)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@dataclass
class Loopback:
    site: Site
    apprise: WebhookReceiver
    smtp_port: int
    mailbox: Mailbox


@contextmanager
def loopback() -> Iterator[Loopback]:
    site, apprise, mailbox = Site(), WebhookReceiver(), Mailbox()
    base = site.base
    site.routes.update(
        {
            "/teaser.xml": Route(fixtures.teaser_feed(base)),
            "/articles/shield.html": Route(fixtures.article_page(fixtures.SHIELD_PARAGRAPH), headers=HTML),
            "/formosa.xml": Route(
                fixtures.rss(
                    [{"title": TRADITIONAL_TITLE, "link": f"{base}/zh/1", "description": "國防部說明。"}],
                    title="Formosa Herald",
                )
            ),
            "/undeclared.xml": Route(
                fixtures.rss(
                    [{"title": UNDECLARED_TITLE, "link": f"{base}/ja/1", "description": UNDECLARED_TEXT}],
                    title="Tokai Shimpo",
                )
            ),
        }
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Loopback(site, apprise, port, mailbox)
    finally:
        controller.stop()
        apprise.close()
        site.close()


def write_config(folder: Path, servers: Loopback) -> Path:
    site = servers.site
    apprise_url = servers.apprise.url.replace("http://", "json://")
    config = {
        "storage": {"url": "sqlite:///data/monitor.db"},
        "fetch": {"timeout": "10s", "host_gap": "0s", "per_host": 8},
        "sources": [
            {"name": "Teaser Times", "url": site.url("/teaser.xml"), "full_text": "always"},
            {"name": "Formosa Herald", "url": site.url("/formosa.xml"), "full_text": "never"},
            {"name": "Tokai Shimpo", "url": site.url("/undeclared.xml"), "full_text": "never"},
        ],
        "watch": [
            {"name": "Taiwan Shield", "query": '"T-Dome" OR 台湾之盾'},
            {"name": "Air defence", "terms": ["防空計画"]},
        ],
        "alerts": [
            {
                "name": "desk",
                "notify": [
                    {"jsonl": "data/alerts.jsonl"},
                    {"apprise": apprise_url},
                    {"email": {"to": "analyst@example.org", "smtp": f"smtp://127.0.0.1:{servers.smtp_port}"}},
                ],
            }
        ],
    }
    path = folder / "monitor.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class Monitor:
    """The installed command, run as a user runs it: a child process with a clean environment."""

    def __init__(self, executable: Path, config: Path) -> None:
        self.executable, self.config = executable, config

    def __call__(self, *args: str, expect: int = 0) -> str:
        environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.config.parent), "LANG": "C.UTF-8"}
        done = subprocess.run(
            [str(self.executable), "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=environment,
            timeout=120,
            check=False,
        )
        if done.returncode != expect:
            raise AssertionError(
                f"monitor {' '.join(args)} exited {done.returncode} (expected {expect})\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done.stdout

    def titles(self, query: str) -> set[str]:
        return {article["title"] for article in json.loads(self("search", query, "--format", "json"))}


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def check_install(executable: Path, folder: Path) -> list[str]:
    """Run every check; returns the names of those that passed, raises on the first failure."""
    passed: list[str] = []
    with loopback() as servers:
        monitor = Monitor(executable, write_config(folder, servers))
        monitor("check")
        passed.append("check")

        summary = monitor("once")
        assert summary.startswith("once: 3 sources (3 ok, 0 failed)"), summary
        assert "3 matched" in summary, summary
        passed.append("once polls every source")

        # The teaser's article page held the term: extracted, matched, alerted to JSON Lines.
        lines = (folder / "data" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
        alerted = {json.loads(line)["article"]["title"]: json.loads(line) for line in lines}
        assert len(lines) == 3, lines
        teaser = alerted["Officials meet on air defence"]
        assert teaser["rules"] == ["Taiwan Shield"], teaser
        assert "T-Dome" in teaser["article"]["summary"], teaser
        passed.append("article page text (trafilatura) alerted to JSON Lines")

        assert _wait(lambda: len(servers.apprise.deliveries) == 3), servers.apprise.deliveries
        bodies = " ".join(str(delivery.payload) for delivery in servers.apprise.deliveries)
        assert TRADITIONAL_TITLE in bodies, bodies
        passed.append("Apprise json:// channel")

        assert _wait(lambda: len(servers.mailbox.messages) == 3), servers.mailbox.messages
        subjects = {str(message_from_bytes(raw)["Subject"]) for raw in servers.mailbox.messages}
        assert any("Officials meet on air defence" in subject for subject in subjects), subjects
        passed.append("e-mail through Jinja2 templates")

        assert monitor.titles("台湾之盾") == {TRADITIONAL_TITLE}
        passed.append("Simplified rule finds a Traditional title (OpenCC)")

        assert monitor.titles("lang:ja") == {UNDECLARED_TITLE}
        passed.append("an entry without a language is identified")

        page = json.loads(monitor("extract", servers.site.url("/articles/shield.html"), "--format", "json"))
        assert page[0]["title"] == "Officials meet on air defence", page
        assert "T-Dome" in page[0]["text"], page
        passed.append("monitor extract on a page")
    return passed


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.smoke PATH/TO/bin/monitor", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="monitor-smoke-") as folder:
        passed = check_install(Path(argv[0]).resolve(), Path(folder))
    for name in passed:
        print(f"ok: {name}")
    print(f"smoke: all {len(passed)} checks of the installed command held")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
