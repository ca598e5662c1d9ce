"""The channel kinds an alert can notify, as one pydantic union keyed by the entry's one key.
Adding a kind: a module with its ChannelSettings subclass, and a line here."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Tag

from monitor.alerts.apprise import AppriseChannel
from monitor.alerts.channel import ChannelSettings
from monitor.alerts.email import EmailChannel
from monitor.alerts.jsonl import JsonlChannel
from monitor.alerts.webhook import WebhookChannel

KINDS: dict[str, type[ChannelSettings]] = {
    kind.kind: kind for kind in (WebhookChannel, AppriseChannel, EmailChannel, JsonlChannel)
}


def _kind_of(value: Any) -> str | None:
    if isinstance(value, ChannelSettings):
        return value.kind
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in KINDS:
        return str(next(iter(value)))
    return None


Channel = Annotated[
    Annotated[WebhookChannel, Tag(WebhookChannel.kind)]
    | Annotated[AppriseChannel, Tag(AppriseChannel.kind)]
    | Annotated[EmailChannel, Tag(EmailChannel.kind)]
    | Annotated[JsonlChannel, Tag(JsonlChannel.kind)],
    Discriminator(
        _kind_of,
        custom_error_type="channel_kind",
        custom_error_message=f"give exactly one of {', '.join(KINDS)}",
    ),
]
