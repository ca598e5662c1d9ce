"""What a monitor process counts as it runs, for /metrics (Prometheus's text format, through
prometheus-client) and /healthz: polls by outcome and their durations, articles stored and
matched, alert sends (the dispatcher's totals); and, read from the archive at each scrape (so
`monitor serve` alone has them too), alerts by state, the outbox's depth, each rule's
recent matches, the sources failing and when the last poll ended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.alerts.dispatch import DispatchReport
from monitor.archive import Archive
from monitor.config.settings import Settings
from monitor.errors import ArchiveError
from monitor.models import AlertState, PollResult

POLL_SECONDS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
RECENT = timedelta(hours=24)


class Metrics:
    """One process's counters; the daemon feeds them, the read side serves them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "monitor_polls", "Polls of sources, by how they ended", ["outcome"], registry=self.registry
        )
        for outcome in PollResult:  # each at 0 from the start: a rate of errors has a series to read
            self.polls.labels(outcome.value)
        self.poll_seconds = Histogram(
            "monitor_poll_duration_seconds",
            "How long a poll took",
            buckets=POLL_SECONDS,
            registry=self.registry,
        )
        self.stored = Counter("monitor_articles_stored", "New articles stored", registry=self.registry)
        self.matched = Counter(
            "monitor_articles_matched",
            "Articles stored or updated that a rule matched",
            registry=self.registry,
        )
        self.csp_reports = Counter(
            "monitor_csp_reports",
            "What a browser refused to load or run on a page (CSP)",
            registry=self.registry,
        )
        self.last_poll: float | None = None  # time.time() when the last poll ended
        self.scheduler_running = False

    def poll_done(self, outcome: str, seconds: float, new: int, matched: int) -> None:
        self.polls.labels(outcome).inc()
        self.poll_seconds.observe(seconds)
        self.stored.inc(new)
        self.matched.inc(matched)
        self.last_poll = time.time()

    def watch_archive(self, archive: Archive, settings: Settings) -> None:
        """Serve, at each scrape, what the archive says (ArchiveCollector)."""
        self.registry.register(ArchiveCollector(archive, settings))

    def watch_sends(self, totals: DispatchReport) -> None:
        """Serve the dispatcher's running totals of alert sends."""
        self.registry.register(SendsCollector(totals))


class SendsCollector(Collector):
    def __init__(self, totals: DispatchReport) -> None:
        self.totals = totals

    def collect(self) -> Iterator[Metric]:
        sends = CounterMetricFamily(
            "monitor_alert_sends", "Alert sends by this process, by result", labels=["result"]
        )
        sends.add_metric(["sent"], self.totals.sent)
        sends.add_metric(["failed"], self.totals.failed)
        yield sends


class ArchiveCollector(Collector):
    """Gauges read from the archive when scraped: alert rows by state, the outbox's depth
    (pending and held), each rule's matches among articles published in the last 24 hours, the
    configured sources failing, when any daemon last ended a poll (a dead one is told by its age:
    `time() - monitor_last_poll_end_timestamp_seconds`), and whether the archive answered."""

    def __init__(self, archive: Archive, settings: Settings) -> None:
        self.archive, self.settings = archive, settings

    def collect(self) -> Iterator[Metric]:
        answering = GaugeMetricFamily("monitor_archive_up", "Whether the archive answered this scrape")
        try:
            self.archive.answers()  # as /healthz: damage found by any read of this process says no
            states = self.archive.stats.alert_states()
            now = datetime.now(UTC)
            rules = [rule.name for rule in self.settings.watch]
            matches = self.archive.stats.rule_matches(rules, [now - RECENT], now)
            failing = self.archive.stats.failing_sources([source.name for source in self.settings.sources])
            last_poll = self.archive.last_poll_end()
        except ArchiveError:
            answering.add_metric([], 0)
            yield answering
            return
        answering.add_metric([], 1)
        yield answering
        alerts = GaugeMetricFamily("monitor_alerts", "Alert rows, by state", labels=["state"])
        for state in AlertState:
            alerts.add_metric([state.value], states.get(state.value, 0))
        yield alerts
        depth = states.get(AlertState.PENDING.value, 0) + states.get(AlertState.HELD.value, 0)
        yield GaugeMetricFamily(
            "monitor_outbox_depth", "Alerts waiting to go out (pending or held)", value=depth
        )
        recent = GaugeMetricFamily(
            "monitor_rule_matches_24h",
            "Articles published in the last 24 hours a rule matched",
            labels=["rule"],
        )
        for rule in self.settings.watch:
            recent.add_metric([rule.name], matches.get(rule.name, [0])[0])
        yield recent
        yield GaugeMetricFamily(
            "monitor_sources_failing", "Configured sources whose last poll failed", value=failing
        )
        if last_poll is not None:  # none yet: no sample, rather than a time 56 years ago
            yield GaugeMetricFamily(
                "monitor_last_poll_end_timestamp_seconds",
                "When any daemon on this archive last ended a poll (Unix time)",
                value=last_poll.timestamp(),
            )
