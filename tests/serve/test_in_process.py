"""The app in this process, where pytest turns every warning into an error: what a request
makes the app warn reaches the daemon's log (its server runs in the daemon's process)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from monitor.archive.sql import SqlArchive
from monitor.config.loading import load_settings
from monitor.metrics import Metrics
from monitor.serve.api import build_api
from monitor.serve.web import Protections
from tests.configs import monitor_config
from tests.serve.conftest import archive_with_articles


def test_refusals_warn_nothing(tmp_path: Path) -> None:
    """Each kind of refusal once: a 422 wrote a deprecation warning into the log (session 29)."""
    archive_with_articles(tmp_path)
    settings = load_settings(monitor_config(tmp_path))
    archive = SqlArchive(settings.database_url())
    reads = ThreadPoolExecutor(2)
    app = Protections(build_api(archive, settings, Metrics(), reads), [])
    asked = {
        "/api/v1/articles?limit=0": 422,
        "/api/v1/articles?q=%22iron": 400,
        "/api/v1/articles/nowhere": 404,
        "/?matched=maybe": 400,
        "/rules/Nowhere": 404,
        "/api/v1/alerts?limit=x": 422,
    }

    async def scenario() -> dict[str, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return {path: (await client.get(path)).status_code for path in asked}

    try:
        assert asyncio.run(scenario()) == asked
    finally:
        reads.shutdown()
        archive.close()
