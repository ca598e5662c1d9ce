"""Webhook channel: a JSON POST with an Idempotency-Key header (the same on every retry)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx

from monitor.alerts import channel_key
from monitor.egress import EgressPolicy, egress, guarded_transport
from monitor.errors import NotifyError


class WebhookNotifier:
    def __init__(self, url: str, timeout: timedelta, user_agent: str) -> None:
        self.url = url
        self.key = channel_key("webhook", url)
        # Through the egress gate too: the operator's URL is trusted, a redirect elsewhere is not.
        self.policy = EgressPolicy.for_source(url)
        self.client = httpx.AsyncClient(
            timeout=timeout.total_seconds(),
            headers={"User-Agent": user_agent},
            transport=guarded_transport(httpx.Limits(max_connections=4)),
        )

    async def send(self, payload: dict[str, Any], idempotency_key: str) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        try:
            with egress(self.policy):
                response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise NotifyError(self.key, f"{type(error).__name__}: {error}") from None
        if not response.is_success:
            raise NotifyError(
                self.key,
                f"HTTP {response.status_code} {response.reason_phrase}",
                retry_after=_retry_after(response.headers.get("retry-after")),
            )

    async def close(self) -> None:
        await self.client.aclose()


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return min(float(value.strip()), 3600.0)
    return None
