"""Apprise channel: any Apprise URL (Slack, Telegram, Discord, ntfy, Matrix, e-mail, ...).

Apprise knows some hundred services; writing each by hand would be the 400-line if-chain of
channels our peers regret.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from monitor.alerts import ChannelThreads, Notifier, channel_key
from monitor.alerts.channel import ChannelContext, ChannelSettings
from monitor.alerts.message import MessageTemplates, TemplateRenderError
from monitor.errors import NotifyError

APPRISE_DEADLINE = 60.0


class AppriseNotifier:
    def __init__(self, url: str, templates: MessageTemplates | None = None) -> None:
        self.templates = templates or MessageTemplates()
        self.url = url
        self.key = channel_key("apprise", url)
        self.deadline = APPRISE_DEADLINE
        self.threads = ChannelThreads("apprise")
        import apprise  # here, not at the top: its ~100 plugins cost ~20 MB a daemon without it saves

        self.client = apprise.Apprise()
        if not self.client.add(url):
            raise ValueError(f"{url!r} is not a URL Apprise understands")

    async def send(self, payload: dict[str, Any], idempotency_key: str) -> None:
        try:
            rendered = await self.threads.run(self.templates.render, payload)
        except TemplateRenderError as error:
            raise NotifyError(self.key, f"the message template failed: {error}") from None
        ok = await self.threads.run(self.client.notify, body=rendered.text, title=rendered.subject)
        if not ok:
            raise NotifyError(self.key, "Apprise could not deliver the notification")

    async def close(self) -> None:
        self.threads.close()


class AppriseChannel(ChannelSettings):
    """`apprise: URL` (any Apprise URL)."""

    kind: ClassVar[str] = "apprise"
    apprise: str = Field(min_length=1)

    def notifier(self, context: ChannelContext) -> Notifier:
        return AppriseNotifier(self.apprise, context.templates)
