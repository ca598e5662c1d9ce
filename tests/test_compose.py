"""docker-compose.yml: the monitor, scalable, beside PostgreSQL with a healthcheck and a named
volume, checked by docker-compose itself (Debian's package; `config` needs no engine)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config.loading import load_settings
from monitor.errors import ConfigError

REPOSITORY = Path(__file__).resolve().parent.parent


def _compose_config(password: str | None) -> subprocess.CompletedProcess[str]:
    compose = shutil.which("docker-compose")
    assert compose, "the compose test needs Debian's docker-compose package (make test installs it as root)"
    environment = {name: value for name, value in os.environ.items() if name != "MONITOR_DB_PASSWORD"}
    if password is not None:
        environment["MONITOR_DB_PASSWORD"] = password
    return subprocess.run(
        [compose, "--file", str(REPOSITORY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPOSITORY,
        timeout=60,
    )


def test_the_compose_file_runs_scalable_daemons_on_a_healthy_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _compose_config("s3cret")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    monitor, postgres = config["services"]["monitor"], config["services"]["postgres"]
    assert monitor["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["volumes"][0].startswith("archive:") and "archive" in config["volumes"]
    # --scale monitor=3 needs no fixed name and no published port to collide on.
    assert "container_name" not in monitor and "ports" not in monitor
    url = monitor["environment"]["MONITOR_STORAGE_URL"]
    assert url == "postgresql://monitor:s3cret@postgres:5432/monitor"
    # The config the container mounts reads that URL; without it, SQLite as before.
    monkeypatch.setenv("MONITOR_STORAGE_URL", url)
    assert load_settings(REPOSITORY / "config" / "monitor.yaml").database_url() == url
    monkeypatch.delenv("MONITOR_STORAGE_URL")
    assert load_settings(REPOSITORY / "config" / "monitor.yaml").database_url().startswith("sqlite:///")


def test_the_database_password_must_be_given() -> None:
    result = _compose_config(None)
    assert result.returncode != 0 and "set MONITOR_DB_PASSWORD" in result.stderr


def test_the_web_service_serves_the_archive_on_this_hosts_loopback_with_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _compose_config("s3cret")
    assert result.returncode == 0, result.stderr
    web = yaml.safe_load(result.stdout)["services"]["web"]
    assert web["command"] == ["serve"] and web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert web["ports"] == ["127.0.0.1:8080:8080/tcp"]  # this host's loopback alone
    environment = web["environment"]
    assert environment["MONITOR_SERVE_LISTEN"] == "0.0.0.0:8080"
    # The shipped config, as the container reads it: no token, no start (the message names it)...
    monkeypatch.setenv("MONITOR_SERVE_LISTEN", environment["MONITOR_SERVE_LISTEN"])
    monkeypatch.delenv("MONITOR_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"off loopback: give serve\.tokens"):
        load_settings(REPOSITORY / "config" / "monitor.yaml")
    monkeypatch.setenv("MONITOR_TOKEN", " " * 16)  # found by a review: it started, open to "?token=%20..."
    with pytest.raises(ConfigError, match="a token holds spaces"):
        load_settings(REPOSITORY / "config" / "monitor.yaml")
    monkeypatch.setenv("MONITOR_TOKEN", "short")
    with pytest.raises(ConfigError, match="too easy to guess"):
        load_settings(REPOSITORY / "config" / "monitor.yaml")
    monkeypatch.setenv("MONITOR_TOKEN", "a-token-of-the-desk-0123")
    assert load_settings(REPOSITORY / "config" / "monitor.yaml").serve.tokens == ["a-token-of-the-desk-0123"]
    # ...while on loopback (make run) it is open without one, as before.
    monkeypatch.delenv("MONITOR_SERVE_LISTEN")
    monkeypatch.delenv("MONITOR_TOKEN")
    assert load_settings(REPOSITORY / "config" / "monitor.yaml").serve.tokens == []
