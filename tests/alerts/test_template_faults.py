"""A message template that fails while rendering is its own alert's failure: `check` finds it,
and one that fails only on real data never holds back another alert or channel."""

from __future__ import annotations

from pathlib import Path

from tests.configs import monitor_config
from tests.conftest import Cli
from tests.servers import Site, WebhookReceiver


def config_with_template(tmp_path: Path, site: Site, webhook: WebhookReceiver, template: str) -> Path:
    (tmp_path / "text.j2").write_text(template, encoding="utf-8")
    apprise = WebhookReceiver()  # never reached: the template fails first
    apprise.close()
    return monitor_config(
        tmp_path,
        fetch={"host_gap": "0s", "per_host": 8},
        sources=[{"name": "Harbor Daily", "url": site.url("/english.xml"), "full_text": "never"}],
        watch=[{"name": "Iron Dome", "terms": ["Iron Dome"]}],
        alerts=[
            {
                "name": "chat",
                "templates": {"text": "text.j2"},
                "max_attempts": 2,
                "notify": [{"apprise": apprise.url.replace("http://", "json://")}],
            },
            {"name": "desk", "notify": [{"webhook": webhook.url}]},
        ],
    )


def test_check_renders_every_template_against_a_sample(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    for template, error in [
        ("{{ 1/0 }}", "ZeroDivisionError"),
        ("{% for i in range(100001) %}x{% endfor %}", "OverflowError"),
        ("{{ article.nope.deeper }}", "UndefinedError"),
    ]:
        config = config_with_template(tmp_path, site, webhook, template)
        code, _, err = cli("-c", str(config), "check")
        assert code == 2, err
        assert f"alerts[0].templates: the text template failed: {error}" in err


def test_a_template_failing_on_real_data_fails_only_its_own_alerts(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    only_real = "{% if article and article.source != 'Sample Source' %}{{ 1/0 }}{% endif %}"
    config = config_with_template(tmp_path, site, webhook, only_real)
    assert cli("-c", str(config), "check")[0] == 0

    code, out, err = cli("-c", str(config), "once", "--source", "Harbor Daily")
    assert code == 0, err
    assert "1 alert sent, 1 alert send failed" in out
    assert [d.payload["article"]["title"] for d in webhook.wait_for(1)] == [
        "Delegation studies Iron-Dome battery"
    ]

    history = cli.json("-c", str(config), "alerts", "--format", "json")
    chat = next(row for row in history if row["alert"] == "chat")
    assert chat["state"] == "pending" and chat["attempts"] == 1
    assert "the text template failed: ZeroDivisionError" in chat["last_error"]


def test_an_immediate_alert_template_need_not_render_digests(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    config = config_with_template(tmp_path, site, webhook, "{{ article.title }}")  # no digest branch
    code, _, err = cli("-c", str(config), "check")
    assert code == 0, err
