from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from tests import fixtures
from tests.configs import LOOPBACK_FETCH, monitor_config
from tests.servers import Route, Site, WebhookReceiver

pytest_plugins = ["tests.postgres"]


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    base = server.base
    server.routes.update(
        {
            "/english.xml": Route(fixtures.english_feed(base)),
            "/atom.xml": Route(fixtures.atom_feed(base), headers={"Content-Type": "application/atom+xml"}),
            "/rdf.xml": Route(fixtures.rdf_feed(base)),
            "/big5.xml": Route(fixtures.big5_feed(base)),
            "/sjis.xml": Route(fixtures.shift_jis_feed(base)),
            "/teaser.xml": Route(fixtures.teaser_feed(base)),
            "/articles/shield.html": Route(
                fixtures.article_page(fixtures.SHIELD_PARAGRAPH),
                headers={"Content-Type": "text/html; charset=utf-8"},
            ),
            "/broken.xml": Route(fixtures.NOT_A_FEED),
            "/error.xml": Route(b"internal error", 500),
            "/hang.xml": Route(b"", delay=30),
        }
    )
    yield server
    server.close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def config(tmp_path: Path, site: Site, webhook: WebhookReceiver) -> Path:
    """A config over every loopback fixture, alerting to the webhook and a JSONL file."""
    sources = [
        {"name": "Harbor Daily", "url": site.url("/english.xml"), "full_text": "never"},
        {"name": "Kanto Wire", "url": site.url("/atom.xml"), "full_text": "never"},
        {"name": "Plains Bulletin", "url": site.url("/rdf.xml"), "full_text": "never"},
        {"name": "Formosa Herald", "url": site.url("/big5.xml"), "full_text": "never"},
        {"name": "Tokai Shimpo", "url": site.url("/sjis.xml"), "full_text": "never"},
        {"name": "Teaser Times", "url": site.url("/teaser.xml")},
        {"name": "Broken Feed", "url": site.url("/broken.xml")},
        {"name": "Failing Feed", "url": site.url("/error.xml")},
        {"name": "Hung Feed", "url": site.url("/hang.xml")},
    ]
    return monitor_config(
        tmp_path,
        fetch=LOOPBACK_FETCH | {"per_host": 8},
        defaults={"every": "15m"},
        sources=sources,
        alerts=[
            {
                "name": "desk",
                "rules": ["Iron Dome", "Taiwan Shield", "Japan documents", "Japan-Israel laser"],
                "notify": [{"webhook": webhook.url}, {"jsonl": "data/alerts.jsonl"}],
            }
        ],
    )


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as stopped:  # argparse's usage errors, as the process would exit
            code = stopped.code if isinstance(stopped.code, int) else 1
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args)
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)
