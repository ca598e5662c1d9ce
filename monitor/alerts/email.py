"""E-mail channel over SMTP (smtp:// with STARTTLS when offered, smtps:// for TLS): one
multipart message per alert, plain text with an HTML alternative."""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator

from monitor.alerts import ChannelThreads, Notifier, channel_key
from monitor.alerts.channel import ChannelContext, ChannelSettings
from monitor.alerts.message import MessageTemplates, TemplateRenderError, one_line
from monitor.config.values import StrictModel
from monitor.errors import NotifyError

EMAIL_DEADLINE = 60.0  # a whole SMTP session; each of its steps times out after 30 s
STEP_TIMEOUT = 30.0


class EmailNotifier:
    def __init__(
        self,
        recipients: list[str],
        smtp_url: str,
        sender: str,
        templates: MessageTemplates | None = None,
        deadline: float = EMAIL_DEADLINE,
    ) -> None:
        self.templates = templates or MessageTemplates()
        self.recipients = recipients
        self.sender = sender
        parts = urlsplit(smtp_url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"{smtp_url!r}: use smtp://host:port or smtps://host:port")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.key = channel_key("email", ",".join(recipients))
        self.deadline = deadline
        self.threads = ChannelThreads("email")

    async def send(self, payload: dict[str, Any], idempotency_key: str) -> None:
        try:
            rendered = await self.threads.run(self.templates.render, payload)
        except TemplateRenderError as error:
            raise NotifyError(self.key, f"the message template failed: {error}") from None
        message = EmailMessage()
        message["Subject"] = rendered.subject
        message["From"] = one_line(self.sender)
        message["To"] = ", ".join(one_line(recipient) for recipient in self.recipients)
        message["Message-ID"] = f"<{idempotency_key}@monitor>"
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        try:
            await self.threads.run(self._deliver, message)
        except (smtplib.SMTPException, OSError) as error:
            raise NotifyError(self.key, f"{type(error).__name__}: {error}") from None

    def _deliver(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.tls:
            client = _SMTPOverTLS(timeout=STEP_TIMEOUT, context=context)
        else:
            client = _SMTP(timeout=STEP_TIMEOUT)
        # A server that trickles a byte at a time never trips a step's timeout: at the deadline
        # the socket is shut, so this thread ends with the send instead of running on.
        watchdog = threading.Timer(self.deadline, _shut, (client,))
        watchdog.start()
        try:
            with client:
                client.connect(self.host, self.port)
                client.ehlo()
                if not self.tls and client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                if self.username and self.password:
                    client.login(self.username, self.password)
                client.send_message(message)
        finally:
            watchdog.cancel()

    async def close(self) -> None:
        self.threads.close()


class _SMTP(smtplib.SMTP):
    """Connected after construction (so that the watchdog covers the greeting), yet checking
    TLS certificates against the host: smtplib takes that name from its constructor only."""

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self._host = host
        return super().connect(host, port, source_address)


class _SMTPOverTLS(smtplib.SMTP_SSL):
    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self._host = host
        return super().connect(host, port, source_address)


def _shut(client: smtplib.SMTP) -> None:
    sock = client.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_ADDRESS = re.compile(r"[^@\s<>\x00-\x1f\x7f]+@[^@\s<>\x00-\x1f\x7f]+")
_NAMED = re.compile(r"[^<>\x00-\x1f\x7f]*<(?P<address>[^<>]*)>")  # Desk <desk@example.org>


class EmailSettings(StrictModel):
    to: str | list[str]
    smtp: str  # no default: a desk that forgot it would send to a local server it does not run
    sender: str = Field(default="monitor@localhost", alias="from")

    @field_validator("smtp")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if not re.match(r"smtps?://[^/\s]+", value):
            raise ValueError(f"{value!r}: use smtp://host:port or smtps://host:port")
        return value

    @field_validator("to", "sender")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        """Addresses a server can deliver to (user@host), not found out at the first alert."""
        given = [value] if isinstance(value, str) else value
        if not given:
            raise ValueError("give at least one address")
        for address in given:
            named = _NAMED.fullmatch(address.strip())
            if not _ADDRESS.fullmatch(named["address"] if named else address.strip()):
                raise ValueError(f"{address!r} is not an e-mail address (user@host)")
        return value

    @property
    def recipients(self) -> list[str]:
        return [self.to] if isinstance(self.to, str) else list(self.to)


class EmailChannel(ChannelSettings):
    """`email: {to, smtp, from}`."""

    kind: ClassVar[str] = "email"
    email: EmailSettings

    def notifier(self, context: ChannelContext) -> Notifier:
        email = self.email
        return EmailNotifier(email.recipients, email.smtp, email.sender, context.templates)
