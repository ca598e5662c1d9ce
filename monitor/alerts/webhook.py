"""Webhook channel: a JSON POST with an Idempotency-Key header (the same on every retry) and,
with a `secret`, a Standard Webhooks signature: `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (a `whsec_` secret is
base64, as that spec writes it; any other secret is used as its UTF-8 bytes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import httpx

from monitor.alerts import channel_key
from monitor.errors import NotifyError
from monitor.net.egress import EgressPolicy, egress, guarded_transport
from monitor.net.retry import retry_after


class WebhookNotifier:
    def __init__(self, url: str, timeout: timedelta, user_agent: str, secret: str | None = None) -> None:
        self.url = url
        self.secret = signing_key(secret) if secret else None
        self.key = channel_key("webhook", url)
        self.deadline = timeout.total_seconds()  # the whole request, however slowly the answer comes
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
        if self.secret is not None:
            headers |= signature_headers(self.secret, idempotency_key, int(time.time()), body)
        try:
            with egress(self.policy):
                response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            unreachable = isinstance(error, httpx.TransportError)
            raise NotifyError(self.key, f"{type(error).__name__}: {error}", unreachable=unreachable) from None
        if not response.is_success:
            raise NotifyError(
                self.key,
                f"HTTP {response.status_code} {response.reason_phrase}",
                retry_after=retry_after(response.headers.get("retry-after"), cap=3600.0),
            )

    async def close(self) -> None:
        await self.client.aclose()


def signing_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode("utf-8")


def signature_headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{digest}",
    }
