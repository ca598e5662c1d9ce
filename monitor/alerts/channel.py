"""What every channel kind provides: its settings (one key of an alert's `notify:` entry), a
check of what the config alone can tell, and the notifier it builds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from monitor.alerts import Notifier
from monitor.alerts.message import MessageTemplates
from monitor.config.values import StrictModel


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What a channel may need from the rest of the config to build its notifier."""

    user_agent: str
    resolve: Callable[[str], Path]  # a path relative to the config file's folder
    templates: MessageTemplates | None = None


class ChannelSettings(StrictModel):
    """One entry of `notify:`, keyed by its kind (`webhook:`, `email:`, ...). A new channel is a
    subclass in its own module, listed in channels.py."""

    kind: ClassVar[str]

    def problem(self, resolve: Callable[[str], Path]) -> str | None:
        """What is wrong with it that the schema cannot say (`monitor check`); None if nothing."""
        return None

    def notifier(self, context: ChannelContext) -> Notifier:
        """ValueError when the settings cannot make a working channel."""
        raise NotImplementedError
