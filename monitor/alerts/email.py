"""E-mail channel over SMTP (smtp:// with STARTTLS when offered, smtps:// for TLS): one
multipart message per alert, plain text with an HTML alternative."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from monitor.alerts import channel_key
from monitor.alerts.message import MessageTemplates, TemplateRenderError, one_line
from monitor.errors import NotifyError

EMAIL_DEADLINE = 60.0  # a whole SMTP session; each of its steps times out after 30 s


class EmailNotifier:
    def __init__(
        self, recipients: list[str], smtp_url: str, sender: str, templates: MessageTemplates | None = None
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
        self.deadline = EMAIL_DEADLINE

    async def send(self, payload: dict[str, Any], idempotency_key: str) -> None:
        try:
            rendered = self.templates.render(payload)
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
            await asyncio.to_thread(self._deliver, message)
        except (smtplib.SMTPException, OSError) as error:
            raise NotifyError(self.key, f"{type(error).__name__}: {error}") from None

    def _deliver(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=30, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=30)
        with client:
            client.ehlo()
            if not self.tls and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if self.username and self.password:
                client.login(self.username, self.password)
            client.send_message(message)

    async def close(self) -> None:
        return None
