"""`monitor backfill`: a new rule over the archive, shown, then recorded and alerted once."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.configs import write_config
from tests.conftest import Cli
from tests.servers import WebhookReceiver


def test_backfill_shows_then_alerts_once(cli: Cli, config: Path, webhook: WebhookReceiver) -> None:
    cli("-c", str(config), "once")
    before = len(webhook.wait_for(6))
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["watch"].append({"name": "Budget", "query": "budget NEAR/3 hearings"})
    data["alerts"][0]["rules"].append("Budget")
    write_config(config, data)

    shown = cli.json("-c", str(config), "backfill", "Budget", "--since", "3650d", "--format", "json")
    assert [(a["title"], a["new"]) for a in shown] == [("Domestic politics roundup", True)]
    assert shown[0]["hits"][0]["term"] == "budget"
    assert len(webhook.deliveries) == before
    assert cli.json("-c", str(config), "search", "budget", "--rule", "Budget", "--format", "json") == []

    code, _, err = cli("-c", str(config), "backfill", "Budget", "--since", "3650d", "--alert")
    assert (
        code == 0
        and "1 article matches, 1 new: recorded, and alerted where their stories had not been" in err
    )
    deliveries = webhook.wait_for(before + 1)
    assert deliveries[-1].payload["rules"] == ["Budget"]
    found = cli.json("-c", str(config), "search", "budget", "--rule", "Budget", "--format", "json")
    assert [a["rules"] for a in found] == [["Budget"]]

    code, _, err = cli("-c", str(config), "backfill", "Budget", "--since", "3650d", "--alert")
    assert "1 article matches, 0 new: nothing to record or alert" in err  # not "alerted" (a review)
    assert len(webhook.deliveries) == before + 1


def test_backfill_says_when_no_alert_takes_the_rule(cli: Cli, config: Path) -> None:
    """Found by a review: it said the new matches were alerted where no alert took the rule."""
    cli("-c", str(config), "once")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["watch"].append({"name": "Budget", "query": "budget NEAR/3 hearings"})
    write_config(config, data)  # the alert names its rules, Budget not among them
    code, _, err = cli("-c", str(config), "backfill", "Budget", "--since", "3650d", "--alert")
    assert code == 0 and "1 article matches, 1 new: recorded (no alert takes this rule)" in err


def test_backfill_of_an_unknown_rule(cli: Cli, config: Path) -> None:
    code, _, err = cli("-c", str(config), "backfill", "Nope")
    assert code == 2 and "no watch rule named 'Nope'" in err and "'Iron Dome'" in err
