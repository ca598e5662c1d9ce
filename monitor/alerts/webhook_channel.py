"""The webhook channel's settings (`webhook: URL` or `webhook: {url, secret, timeout}`); its
sending is webhook.py's, imported when a daemon makes its notifier: a config loads without the
HTTP client (most commands read the config, few send)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import field_validator

from monitor.alerts import Notifier
from monitor.alerts.channel import ChannelContext, ChannelSettings
from monitor.config.values import HttpUrl, StrictModel, TimeLimit


class WebhookSettings(StrictModel):
    url: HttpUrl
    secret: str | None = None
    timeout: TimeLimit = timedelta(seconds=10)


class WebhookChannel(ChannelSettings):
    """`webhook: URL`, or `webhook: {url, secret, timeout}`."""

    kind: ClassVar[str] = "webhook"
    webhook: WebhookSettings

    @field_validator("webhook", mode="before")
    @classmethod
    def _url_alone(cls, value: Any) -> Any:
        return {"url": value} if isinstance(value, str) else value

    def notifier(self, context: ChannelContext) -> Notifier:
        from monitor.alerts.webhook import WebhookNotifier

        webhook = self.webhook
        return WebhookNotifier(webhook.url, webhook.timeout, context.user_agent, webhook.secret)
