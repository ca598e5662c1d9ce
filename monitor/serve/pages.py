"""The web pages' routes: search, an article, the rules and one rule's chart, the sources'
health, the alerts with a retry button; rendered as rendering.py says."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from monitor.archive import Archive
from monitor.config.settings import Settings
from monitor.serve.alert_pages import AlertPages
from monitor.serve.overview_pages import OverviewPages
from monitor.serve.search_page import SearchPage
from monitor.serve.searching import Searching


def add_pages(
    app: FastAPI,
    archive: Archive,
    settings: Settings,
    readers: Sequence[Any],
    searching: Searching,
    counting: Searching,
) -> None:
    """The pages' routes on the app, behind the same token check as the API (`readers`); the
    searches run by `searching`, the counts by `counting`."""
    search = SearchPage(archive, settings, searching)
    overviews = OverviewPages(archive, settings, searching, counting)
    alerts = AlertPages(archive, counting)
    guarded = list(readers)
    for path, answer in (
        ("/", search.search_page),
        ("/articles/{article_id}", overviews.article_page),
        ("/rules", overviews.rules_page),
        ("/rules/{name:path}", overviews.rule_page),
        ("/sources", overviews.sources_page),
        ("/alerts", alerts.alerts_page),
    ):
        app.add_api_route(
            path, answer, dependencies=guarded, response_class=HTMLResponse, include_in_schema=False
        )
    app.add_api_route(
        "/alerts/retry", alerts.retry, methods=["POST"], dependencies=guarded, include_in_schema=False
    )
