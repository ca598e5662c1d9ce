"""The channel kinds an alert can notify, as one pydantic union keyed by the entry's one key.
Adding a kind: a module with its ChannelSettings subclass, and its class in CHANNELS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BeforeValidator, Discriminator, Tag

from monitor.alerts.apprise import AppriseChannel
from monitor.alerts.channel import ChannelSettings
from monitor.alerts.email import EmailChannel
from monitor.alerts.jsonl import JsonlChannel
from monitor.alerts.webhook_channel import WebhookChannel

CHANNELS: tuple[type[ChannelSettings], ...] = (WebhookChannel, AppriseChannel, EmailChannel, JsonlChannel)
KINDS: dict[str, type[ChannelSettings]] = {channel.kind: channel for channel in CHANNELS}


def _one_kind(value: Any) -> Any:
    """An entry names exactly one kind; its other keys, if any, are refused by that kind's model
    as unknown keys."""
    if isinstance(value, dict):
        kinds = [key for key in value if key in KINDS]
        if len(kinds) != 1:
            found = ", ".join(map(str, value)) or "nothing"
            raise ValueError(f"give exactly one of {', '.join(KINDS)} (found: {found})")
    return value


def _kind_of(value: Any) -> str | None:
    if isinstance(value, ChannelSettings):
        return value.kind
    if isinstance(value, dict):
        return next((str(key) for key in value if key in KINDS), None)
    return None


if TYPE_CHECKING:
    Channel = ChannelSettings
else:
    Channel = Annotated[
        Union[tuple(Annotated[channel, Tag(channel.kind)] for channel in CHANNELS)],  # noqa: UP007
        Discriminator(
            _kind_of,
            custom_error_type="channel_kind",
            custom_error_message=f"give exactly one of {', '.join(KINDS)}",
        ),
        BeforeValidator(_one_kind),
    ]
