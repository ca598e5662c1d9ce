"""The product through the CLI on a PostgreSQL archive: `storage.url: postgresql://…` (with its
secret from the environment) selects it, and feeds in, matches archived, alerted once and
searchable behave as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.configs import write_config
from tests.conftest import Cli
from tests.servers import WebhookReceiver


@pytest.fixture
def postgres_config(
    config: Path, postgres_url: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The loopback config of tests/conftest.py, archiving in a PostgreSQL schema of its own; the
    URL's database part comes from the environment, as a password would."""
    server, database = postgres_url.rsplit("/", 1)
    monkeypatch.setenv("MONITOR_TEST_DATABASE", database)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    in_schema = f"options=-csearch_path%3D{postgres_schema}"
    data["storage"] = {"url": f"{server}/${{MONITOR_TEST_DATABASE}}?{in_schema}"}
    return write_config(config, data)


def test_once_alerts_once_and_searches_on_postgresql(
    cli: Cli, postgres_config: Path, webhook: WebhookReceiver
) -> None:
    code, out, err = cli("-c", str(postgres_config), "check")
    assert code == 0, err
    assert "archive: ok (reachable)" in out
    code, out, err = cli("-c", str(postgres_config), "once")
    assert code == 0, err
    assert out.startswith("once: 9 sources (6 ok, 3 failed)")
    assert len(webhook.wait_for(6)) == 6
    assert not (postgres_config.parent / "storage").exists()  # nothing went to a SQLite file

    found = cli.json("-c", str(postgres_config), "search", '"iron dome" OR 鐵穹', "--format", "json")
    assert {article["source"] for article in found} >= {"Harbor Daily", "Formosa Herald"}
    assert all(article["hits"] for article in found)
    assert cli.json("-c", str(postgres_config), "search", "國防部", "--format", "json")

    code, out, _ = cli("-c", str(postgres_config), "once")
    assert code == 0
    assert "0 new articles" in out and "0 alerts sent" in out
    assert len(webhook.deliveries) == 6

    code, out, _ = cli("-c", str(postgres_config), "sources")
    assert code == 0 and "Failing Feed" in out
    code, out, _ = cli("-c", str(postgres_config), "alerts")
    assert code == 0 and out.count("sent") >= 6


DESK, FAR = "postgresql://desk", "127.0.0.1:9"  # a port nothing listens on


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (f"{DESK}:hunter2@{FAR}/news", f"cannot open the archive at {DESK}@{FAR}/news: "),
        (f"{DESK}:hunter2@127.0.0.1:port/news", f"not a usable PostgreSQL URL: {DESK}@127.0.0.1:port/news"),
        (f"{DESK}:hun@ter2@{FAR}/news", "the storage URL's user part holds an unencoded @"),
        (f"{DESK}:hu:nt/er2@{FAR}/news", f"cannot open the archive at {DESK}@{FAR}/news: "),
        (
            f"{DESK}@{FAR}/news?password=hunter2",
            f"cannot open the archive at {DESK}@{FAR}/news?password=***: ",
        ),
    ],
)
def test_a_server_out_of_reach_or_a_bad_url_is_one_line_without_the_password(
    cli: Cli, tmp_path: Path, url: str, said: str
) -> None:
    config = write_config(tmp_path / "monitor.yaml", {"storage": {"url": url}, "sources": [], "watch": []})
    code, _, err = cli("-c", str(config), "check")
    assert code == 2
    assert said in err
    assert not {"hunter2", "ter2", "er2"} & set(err.replace(":", " ").replace("/", " ").split()), err
    assert "Traceback" not in err and len(err.splitlines()) == 1
