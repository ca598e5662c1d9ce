"""A poll that fails by a fault of the monitor (a bug, a module missing from the install) says so:
it never reads as the source's error, and `monitor once` exits 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import fixtures
from tests.configs import monitor_config
from tests.servers import Route, Site

# The fault a plain install had: justext imports lxml.html.clean, which needs lxml_html_clean.
WITHOUT_LXML_HTML_CLEAN = "import sys; sys.modules['lxml_html_clean'] = None; "


def monitor(config: Path, *args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{prelude}from monitor.cli import main; sys.exit(main({['-c', str(config), *args]!r}))"
    return subprocess.run(
        [sys.executable, "-c", f"import sys; {code}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_missing_module_is_reported_as_ours_then_recovers(tmp_path: Path) -> None:
    site = Site()
    try:
        site.routes["/teaser.xml"] = Route(fixtures.teaser_feed(site.base))
        site.routes["/articles/shield.html"] = Route(
            fixtures.article_page(fixtures.SHIELD_PARAGRAPH), headers={"Content-Type": "text/html"}
        )
        config = monitor_config(
            tmp_path,
            storage="sqlite:///monitor.db",
            watch=[{"name": "Taiwan Shield", "terms": ["T-Dome"]}],
            fetch={"host_gap": "0s"},
            sources=[{"name": "Teaser Times", "url": site.url("/teaser.xml"), "full_text": "always"}],
        )
        broken = monitor(config, "once", prelude=WITHOUT_LXML_HTML_CLEAN)
        assert broken.returncode == 1, broken.stderr
        assert "Traceback" not in broken.stdout
        assert "(0 ok, 1 failed)" in broken.stdout
        assert "1 of the failures are a fault of the monitor, not of the source" in broken.stdout
        assert "polling 'Teaser Times' failed by a fault of the monitor" in broken.stderr
        assert "lxml_html_clean" in broken.stderr  # the log keeps the traceback

        listed = monitor(config, "sources", "--format", "json")
        [state] = json.loads(listed.stdout)
        assert state["status"].startswith("INTERNAL ERROR (the monitor's fault)"), state
        assert state["last_error"].startswith("a fault of the monitor, not of the source"), state
        assert "ImportError" in state["last_error"], state
        assert state["consecutive_errors"] == 1

        healthy = monitor(config, "once", "--source", "Teaser Times")
        assert healthy.returncode == 0, healthy.stderr
        assert "(1 ok, 0 failed)" in healthy.stdout and "1 matched" in healthy.stdout
        [state] = json.loads(monitor(config, "sources", "--format", "json").stdout)
        assert state["status"] == "ok (200)" and state["last_error"] is None, state
    finally:
        site.close()
