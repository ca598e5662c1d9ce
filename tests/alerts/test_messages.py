"""Alert messages: the shipped Jinja2 templates, overrides, digests grouped by rule, and e-mail
over STARTTLS with authentication against a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.alerts.email import EmailNotifier
from monitor.alerts.message import MessageTemplates
from monitor.errors import NotifyError
from monitor.models import ArchivedArticle, Hit
from monitor.payloads import alert_json, digest_json
from tests.alerts.test_channels import Mailbox
from tests.archive.helpers import make_article
from tests.configs import monitor_config
from tests.conftest import Cli

LASER_HIT = Hit("Laser", "Iron Beam", "text", 0, 9, "Iron Beam test <script>")
ARTICLES = [
    ArchivedArticle(make_article("a1", title="Dome <b>visit</b>"), (("Other Outlet", "https://o.test/1"),)),
    ArchivedArticle(make_article("a2", title="Laser trial", hits=(LASER_HIT,))),
]


def test_the_shipped_templates_render_an_alert_in_text_and_escaped_html() -> None:
    message = MessageTemplates().render(alert_json("k", "desk", ["Iron Dome"], ARTICLES[0]))
    assert message.subject == "[monitor] Iron Dome: Dome <b>visit</b>"
    assert "Dome <b>visit</b>" in message.text and "also: Other Outlet https://o.test/1" in message.text
    assert "Dome &lt;b&gt;visit&lt;/b&gt;" in message.html
    assert '<a href="https://o.test/1">Other Outlet</a>' in message.html


def test_a_digest_lists_its_stories_grouped_by_rule() -> None:
    message = MessageTemplates().render(digest_json("k", "desk", ARTICLES))
    assert message.subject == "[monitor] desk: 2 new stories"
    assert message.text.index("== Iron Dome (1) ==") < message.text.index("Dome <b>visit</b>")
    assert message.text.index("== Laser (1) ==") < message.text.index("Laser trial")
    assert "<h3>Laser</h3>" in message.html and "&lt;script&gt;" in message.html
    assert "<script>" not in message.html


def test_an_alert_can_replace_a_template(tmp_path: Path) -> None:
    (tmp_path / "subject.j2").write_text("{{ alert | upper }} · {{ articles | length }}", encoding="utf-8")
    templates = MessageTemplates({"subject": tmp_path / "subject.j2"})
    assert templates.render(digest_json("k", "desk", ARTICLES)).subject == "DESK · 2"


def test_a_template_that_does_not_parse_stops_the_config(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "bad.j2").write_text("{% for x in %}", encoding="utf-8")
    config = monitor_config(
        tmp_path,
        storage=None,
        watch=[{"name": "r", "terms": ["dome"]}],
        alerts=[{"name": "desk", "templates": {"text": "bad.j2"}, "notify": [{"jsonl": "a.jsonl"}]}],
    )
    code, _, err = cli("-c", str(config), "check")
    assert code == 2 and "alerts[0].templates: text template" in err and "line 1" in err


def test_a_template_that_fails_while_rendering_is_a_notify_error(tmp_path: Path) -> None:
    (tmp_path / "subject.j2").write_text("{{ no_such_thing.title }}", encoding="utf-8")
    notifier = EmailNotifier(
        ["a@example.org"],
        "smtp://127.0.0.1:9",
        "m@test",
        MessageTemplates({"subject": tmp_path / "subject.j2"}),
    )
    with pytest.raises(NotifyError, match="template"):
        asyncio.run(notifier.send(alert_json("k", "desk", ["Iron Dome"], ARTICLES[0]), "k"))


class Authenticator:
    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"desk", b"s3cret")
        return AuthResult(success=ok)


def _trusted_server_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server certificate from a private CA, which the client trusts through SSL_CERT_FILE,
    as a desk with its own CA would configure it."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    return server_context


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def tls_smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, Mailbox]]:
    """An SMTP server that requires STARTTLS and AUTH."""
    mailbox, port = Mailbox(), _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_trusted_server_context(tmp_path, monkeypatch),
        require_starttls=True,
        authenticator=Authenticator(),
        auth_required=True,
    )
    controller.start()
    yield port, mailbox
    controller.stop()


def test_email_over_implicit_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox, port = Mailbox(), _free_port()
    context = _trusted_server_context(tmp_path, monkeypatch)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        notifier = EmailNotifier(["analyst@example.org"], f"smtps://127.0.0.1:{port}", "m@test")
        asyncio.run(notifier.send(alert_json("k1", "desk", ["Iron Dome"], ARTICLES[0]), "k1"))
    finally:
        controller.stop()
    assert len(mailbox.messages) == 1


def test_email_over_starttls_with_login(tls_smtp: tuple[int, Mailbox]) -> None:
    port, mailbox = tls_smtp
    notifier = EmailNotifier(["analyst@example.org"], f"smtp://desk:s3cret@127.0.0.1:{port}", "m@test")
    asyncio.run(notifier.send(alert_json("k1", "desk", ["Iron Dome"], ARTICLES[0]), "k1"))
    [envelope] = mailbox.messages
    message = message_from_bytes(envelope.content)
    parts = message.get_payload()
    assert isinstance(parts, list)
    assert [part.get_content_type() for part in parts if isinstance(part, Message)] == [
        "text/plain",
        "text/html",
    ]
