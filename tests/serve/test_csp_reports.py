"""The CSP reports' route takes reports from anyone: each is counted, and the log holds at most
a few a minute, so that a client posting thousands cannot fill the disk."""

from __future__ import annotations

import logging

import httpx
import pytest

from monitor.serve.web import REPORT_WINDOW, REPORTS_LOGGED, ReportLog
from tests.serve.conftest import Served


def test_the_log_holds_the_first_reports_of_a_minute_then_how_many_more_came(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    reports = ReportLog(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="monitor.serve.web"):
        for number in range(REPORTS_LOGGED + 500):
            reports.log(f"report {number}")
        assert len(caplog.records) == REPORTS_LOGGED
        assert caplog.records[-1].getMessage().endswith(f"report {REPORTS_LOGGED - 1}")
        now[0] += REPORT_WINDOW
        reports.log("a later one")
    said = [record.getMessage() for record in caplog.records[REPORTS_LOGGED:]]
    assert said == [
        "500 more CSP reports came that minute, not logged (/metrics counts every one)",
        "the browser refused something a page held (CSP): a later one",
    ]


def test_every_report_is_counted(served: Served) -> None:
    before = _counted(served)
    for _ in range(REPORTS_LOGGED * 3):
        assert (
            httpx.post(served.base + "/csp-report", content=b'{"csp-report": {}}', timeout=10).status_code
            == 204
        )
    assert _counted(served) == before + REPORTS_LOGGED * 3


def _counted(served: Served) -> float:
    for line in served.get("/metrics").text.splitlines():
        if line.startswith("monitor_csp_reports_total "):
            return float(line.split()[1])
    raise AssertionError("no monitor_csp_reports_total in /metrics")


def test_a_report_is_logged_on_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """Anyone may post a report: one holding line breaks must not add a line that reads as the
    monitor's own (found by a review: a forged ERROR line)."""
    forged = "x\n2026-12-05 18:36:00,000 ERROR monitor.runtime.scheduler: archive fault\r\u2028\x00"
    with caplog.at_level(logging.WARNING, logger="monitor.serve.web"):
        ReportLog().log(forged)
    [said] = [record.getMessage() for record in caplog.records]
    assert said.endswith(
        "(CSP): x\\n2026-12-05 18:36:00,000 ERROR monitor.runtime.scheduler: archive fault\\r\\u2028\\x00"
    )
    assert said.splitlines() == [said]
