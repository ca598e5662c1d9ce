"""Each channel against a real receiver on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from monitor.alerts import SENDS_PER_CHANNEL
from monitor.alerts.apprise import AppriseNotifier
from monitor.alerts.dispatch import _delivery_error
from monitor.alerts.email import EmailNotifier
from monitor.alerts.jsonl import JsonlNotifier
from monitor.alerts.message import MessageTemplates, TemplateRenderError
from monitor.alerts.webhook import WebhookNotifier
from monitor.errors import NotifyError
from monitor.models import ArchivedArticle
from monitor.payloads import alert_json
from tests.archive.helpers import make_article
from tests.hostile import HostileServer
from tests.servers import WebhookReceiver

PAYLOAD = alert_json(
    "k1", "desk", ["Iron Dome"], ArchivedArticle(make_article("a1", title="Evil\r\nBcc: x@y.z"))
)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, mailbox
    controller.stop()


def test_email_is_delivered_with_safe_headers(smtp: tuple[Controller, Mailbox]) -> None:
    controller, mailbox = smtp
    port = controller.port
    notifier = EmailNotifier(["analyst@example.org"], f"smtp://127.0.0.1:{port}", "monitor@test")
    asyncio.run(notifier.send(PAYLOAD, "k1"))
    [envelope] = mailbox.messages
    assert envelope.rcpt_tos == ["analyst@example.org"]
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == "[monitor] Iron Dome: Evil Bcc: x@y.z"
    assert message["Bcc"] is None
    assert message["Message-ID"] == "<k1@monitor>"
    assert message.get_content_type() == "multipart/alternative"
    text, html = _decoded_parts(message)
    assert "The Iron Dome was shown." in text
    assert "<mark>Iron Dome</mark>" in html and "Evil" in html


def test_email_to_a_closed_port_is_a_notify_error() -> None:
    notifier = EmailNotifier(["a@example.org"], "smtp://127.0.0.1:9", "monitor@test")
    with pytest.raises(NotifyError, match="email:"):
        asyncio.run(notifier.send(PAYLOAD, "k1"))


def test_apprise_json_scheme_reaches_the_receiver(webhook: WebhookReceiver) -> None:
    url = webhook.url.replace("http://", "json://")
    asyncio.run(AppriseNotifier(url).send(PAYLOAD, "k1"))
    [delivery] = webhook.wait_for(1)
    assert delivery.payload["title"].startswith("[monitor] Iron Dome:")
    assert "The Iron Dome was shown." in delivery.payload["message"]


def test_jsonl_appends_one_object_per_alert(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "alerts.jsonl"
    notifier = JsonlNotifier(path)
    asyncio.run(notifier.send(PAYLOAD, "k1"))
    asyncio.run(notifier.send(PAYLOAD, "k1"))
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2 and lines[0]["idempotency_key"] == "k1"
    assert lines[0]["article"]["id"] == "a1"


def test_webhook_signature_verifies(webhook: WebhookReceiver) -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    notifier = WebhookNotifier(webhook.url, timedelta(seconds=5), "test", secret)
    asyncio.run(notifier.send(PAYLOAD, "k1"))
    asyncio.run(notifier.close())
    [delivery] = webhook.wait_for(1)
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    assert headers["webhook-id"] == "k1" == headers["idempotency-key"]
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + delivery.raw
    expected = hmac.new(b"0123456789abcdef0123456789abcdef", signed, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60


def _decoded_parts(message: Message) -> list[str]:
    parts = message.get_payload()
    assert isinstance(parts, list)
    decoded = [part.get_payload(decode=True) for part in parts if isinstance(part, Message)]
    assert len(decoded) == len(parts) and all(isinstance(payload, bytes) for payload in decoded)
    return [payload.decode() for payload in decoded if isinstance(payload, bytes)]


def test_a_trickling_smtp_server_is_cut_at_the_deadline_thread_and_all() -> None:
    """A byte every half second never trips smtplib's per-step timeout; the watchdog shuts the
    socket at the deadline, so the send's thread ends too (asyncio.run waits for it)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = server.accept()
        with connection:
            while not stop.wait(0.5):
                try:
                    connection.sendall(b"2")
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    notifier = EmailNotifier(
        ["a@example.org"], f"smtp://127.0.0.1:{server.getsockname()[1]}", "monitor@test", deadline=2.0
    )
    started = time.monotonic()
    error = asyncio.run(_delivery_error(notifier, PAYLOAD, "k1"))
    elapsed = time.monotonic() - started
    stop.set()
    server.close()
    assert error is not None and "not done within its 2s deadline" in str(error), error
    assert elapsed < 5, f"{elapsed:.1f}s: the SMTP thread outlived the deadline"


def test_a_hung_apprise_channel_fills_its_own_threads_not_the_loops() -> None:
    server = HostileServer()
    hung = [
        AppriseNotifier(server.url("/silent").replace("http://", "json://") + f"?rto=30&n={n}")
        for n in range(2)
    ]

    async def scenario() -> float:
        # The loop's default threads run archive writes and matching: four, as on a small machine.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=4))
        sends = [
            asyncio.create_task(_delivery_error(notifier, PAYLOAD, f"k{n}"))
            for notifier in hung
            for n in range(SENDS_PER_CHANNEL)
        ]
        await asyncio.sleep(1.0)  # every send now holds a thread, waiting for an answer
        started = time.monotonic()
        await asyncio.wait_for(asyncio.to_thread(lambda: None), 20)
        waited = time.monotonic() - started
        server.close()  # the receiver hangs up: the sends fail and their threads end
        errors = await asyncio.gather(*sends)
        assert all(isinstance(error, NotifyError) for error in errors)
        for notifier in hung:
            await notifier.close()
        return waited

    assert asyncio.run(scenario()) < 0.5


def test_a_slow_template_is_stopped_at_its_deadline_off_the_event_loop(tmp_path: Path) -> None:
    (tmp_path / "text.j2").write_text(
        "{% for i in range(5000) %}{% for j in range(5000) %}x{% endfor %}{% endfor %}", encoding="utf-8"
    )
    templates = MessageTemplates({"text": tmp_path / "text.j2"})
    templates.deadline = 0.5
    notifier = EmailNotifier(["desk@example.org"], "smtp://127.0.0.1:9", "monitor@example.org", templates)

    async def scenario() -> tuple[NotifyError | None, float]:
        gaps: list[float] = []

        async def tick() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.02)
                gaps.append(time.monotonic() - last)
                last = time.monotonic()

        ticker = asyncio.create_task(tick())
        error = await _delivery_error(notifier, PAYLOAD, "k1")
        ticker.cancel()
        await notifier.close()
        return error, max(gaps)

    error, longest_gap = asyncio.run(scenario())
    assert error is not None and "the text template failed: _Overtime: took longer than 0.5 s" in str(error)
    assert longest_gap < 0.3, f"the event loop stalled for {longest_gap:.1f} s"


@pytest.mark.parametrize(
    ("template", "refused"),
    [
        ("{{ 'ab' * 10**9 }}", "more than 1,000,000 items"),
        ("{{ 'ab' * 600000 + 'ab' * 600000 }}", "more than 1,000,000 items"),
        ("{{ 10 ** 100000000 }}", "more than 1,000,000 bits"),
        ("{{ ((9 ** 1000) ** 1000) ** 1000 }}", "more than 1,000,000 bits"),
        ("{{ 'x' | center(999999999) }}", "center\\(\\) wider than 9,999"),
        ("{{ 'x' | indent(999999999, true) }}", "indent\\(\\) wider than 9,999"),
        ("{{ '%999999999d' % 1 }}", "a field wider than 9,999"),
        ("{{ '%999999999d' | format(1) }}", "a field wider than 9,999"),
        ("{{ '%*d' % (999999999, 1) }}", "a field wider than 9,999"),
        ("{{ '{:>999999999}'.format(1) }}", "a field wider than 9,999"),
        ("{{ '{:>{}}'.format(1, 999999999) }}", "a field wider than 9,999"),
    ],
)
def test_a_template_cannot_build_a_huge_value_in_one_step(
    tmp_path: Path, template: str, refused: str
) -> None:
    (tmp_path / "text.j2").write_text(template, encoding="utf-8")
    with pytest.raises(TemplateRenderError, match=refused):
        MessageTemplates({"text": tmp_path / "text.j2"}).render(PAYLOAD)


def test_a_template_nested_too_deeply_is_refused_when_read(tmp_path: Path) -> None:
    (tmp_path / "subject.j2").write_text("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", encoding="utf-8")
    with pytest.raises(ValueError, match=r"subject template .*subject\.j2: it nests too deeply"):
        MessageTemplates({"subject": tmp_path / "subject.j2"})


def test_ordinary_formatting_still_works(tmp_path: Path) -> None:
    template = (
        "{{ '%-8s|' % 'ab' }}{{ '{:>6}'.format('cd') }}{{ 'x' | center(5) }}{{ 2 ** 10 }}{{ 'a' + 'b' }}"
    )
    (tmp_path / "text.j2").write_text(template, encoding="utf-8")
    text = MessageTemplates({"text": tmp_path / "text.j2"}).render(PAYLOAD).text
    assert text == "ab      |    cd  x  1024ab\n"


def test_an_apprise_url_whose_token_looks_like_a_port_names_its_channel() -> None:
    """Telegram's bot token holds a colon (tgram://123456789:ABC.../chat): not a port."""
    key = AppriseNotifier("tgram://123456789:ABCdefGHI/12345").key
    assert key.startswith("apprise:tgram://123456789#") and "ABCdef" not in key
