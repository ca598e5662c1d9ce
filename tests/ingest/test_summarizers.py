"""The pluggable summarizer: an OpenAI-compatible endpoint (a fake on loopback), with the
extractive summary as the fallback on any failure."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.ingest.summaries.summarizers import OpenAISummarizer
from monitor.models import Hit
from tests.configs import LOOPBACK_FETCH, monitor_config
from tests.conftest import Cli
from tests.fixtures import rss
from tests.servers import Route, Site, WebhookReceiver

BODY = "Lead sentence of the report. Filler here. The Iron Dome battery arrived. Closing words."
HIT = Hit("Iron Dome", "Iron Dome", "text", BODY.index("Iron"), BODY.index("Iron") + 9, "Iron Dome battery")
EXTRACTIVE = "Lead sentence of the report. The Iron Dome battery arrived."


def _completion(text: str) -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()


@pytest.fixture
def model() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    server.reply = _completion("  The army received an Iron Dome battery,\n relevant to the rule.  ")
    yield server
    server.close()


def _summarize(model: WebhookReceiver, hits: list[Hit], timeout: float = 5.0) -> str:
    async def run() -> str:
        summarizer = OpenAISummarizer(
            model.url.replace("/hook", "/v1"), "local-model", "sk-test", timedelta(seconds=timeout)
        )
        try:
            return await summarizer.summarize("Title", BODY, "text", hits)
        finally:
            await summarizer.close()

    return asyncio.run(run())


def test_the_model_answer_becomes_the_summary(model: WebhookReceiver) -> None:
    assert _summarize(model, [HIT]) == "The army received an Iron Dome battery, relevant to the rule."
    [request] = model.deliveries
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.payload["model"] == "local-model"
    prompt = request.payload["messages"][1]["content"]
    assert "Watch rules matched: Iron Dome" in prompt and "Iron Dome battery" in prompt


@pytest.mark.parametrize(
    ("status", "reply", "delay"),
    [(500, b"", 0.0), (200, b"not json", 0.0), (200, b'{"choices": []}', 0.0), (200, _completion(""), 0.0)],
)
def test_any_failure_falls_back_to_the_extractive_summary(
    model: WebhookReceiver, status: int, reply: bytes, delay: float
) -> None:
    model.status, model.reply, model.delay = status, reply, delay
    assert _summarize(model, [HIT]) == EXTRACTIVE


def test_a_slow_model_times_out_to_the_extractive_summary(model: WebhookReceiver) -> None:
    model.delay = 2.0
    assert _summarize(model, [HIT], timeout=0.3) == EXTRACTIVE


def test_unmatched_articles_are_not_sent_to_the_model(model: WebhookReceiver) -> None:
    assert _summarize(model, []) == "Lead sentence of the report."
    assert model.deliveries == []


def test_the_configured_summarizer_writes_the_stored_summary(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver, model: WebhookReceiver
) -> None:
    site.routes["/feed.xml"] = Route(
        rss([{"title": "Battery arrives", "link": f"{site.base}/n/1", "description": BODY}])
    )
    config = monitor_config(
        tmp_path,
        fetch=LOOPBACK_FETCH,
        defaults={"full_text": "never"},
        summarizer={"kind": "openai", "url": model.url.replace("/hook", "/v1"), "model": "m"},
        sources=[{"name": "Feed", "url": site.url("/feed.xml")}],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )
    code, _, err = cli("-c", str(config), "once")
    assert code == 0, err
    [delivery] = webhook.wait_for(1)
    assert delivery.payload["article"]["summary"].startswith("The army received an Iron Dome battery")
