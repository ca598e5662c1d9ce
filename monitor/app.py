"""Composition root: the one place that picks adapters and wires the pipeline together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.alerts import Notifier
from monitor.alerts.channel import ChannelContext
from monitor.alerts.dispatch import AlertRoute, Dispatcher
from monitor.alerts.message import MessageTemplates
from monitor.alerts.schedules import AlertMode
from monitor.archive import Archive
from monitor.archive.backends import open_archive
from monitor.config.settings import RuleSettings, Settings, SourceSettings, TemplateSettings
from monitor.errors import ConfigError
from monitor.ingest.fetch.client import Fetcher
from monitor.ingest.poll.pipeline import Pipeline, SourceReport
from monitor.ingest.poll.policy import longest_wait
from monitor.ingest.poll.source import ingest_source
from monitor.ingest.summaries.summarizers import ExtractiveSummarizer, OpenAISummarizer, Summarizer
from monitor.models import SourceState
from monitor.payloads import sample_payloads
from monitor.phrases import counted
from monitor.rules import CompiledRule, parse_query, terms_query, to_text
from monitor.rules.automaton import Matcher

log = logging.getLogger(__name__)

# A claimed source is due again at its lease's end unless its poll is recorded first: a daemon
# renews the leases of its running polls (runtime/scheduler.py), so a lease lapses only when its
# daemon died, and another daemon takes the source over within CLAIM_LEASE.
CLAIM_LEASE = timedelta(seconds=30)


@dataclass(slots=True)
class App:
    settings: Settings
    archive: Archive
    fetcher: Fetcher
    matcher: Matcher
    dispatcher: Dispatcher
    pipeline: Pipeline
    clock: Callable[[], datetime]

    async def poll(self, names: Sequence[str] | None = None) -> list[SourceReport]:
        """Poll the named sources (default: all) now, concurrently."""
        chosen = [s for s in self.settings.sources if names is None or s.name in names]
        states = await asyncio.to_thread(self.archive.source_states_of, [source.name for source in chosen])
        polls = (ingest_source(self.pipeline, source, states.get(source.name)) for source in chosen)
        return list(await asyncio.gather(*polls))

    async def claim_due(
        self, limit: int = 100
    ) -> tuple[datetime, list[tuple[SourceSettings, SourceState | None]]]:
        """Take the sources whose next poll is due (for a lease, so no one else takes them),
        with their stored states, and the time of the claim (Archive.renew_claims)."""
        now = self.clock()
        configured = [source.name for source in self.settings.sources]

        def claim() -> dict[str, SourceState]:
            names = self.archive.claim_due_sources(now, now + CLAIM_LEASE, limit, configured)
            return self.archive.source_states_of(names) if names else {}

        states = await asyncio.to_thread(claim)
        return now, [
            (source, states.get(source.name)) for source in self.settings.sources if source.name in states
        ]

    async def poll_one(self, source: SourceSettings, state: SourceState | None) -> SourceReport:
        return await ingest_source(self.pipeline, source, state)

    async def aclose(self) -> None:
        await self.fetcher.close()
        await self.pipeline.summarizer.close()
        await self.dispatcher.close()
        self.archive.close()


def _template_files(settings: Settings, templates: TemplateSettings) -> dict[str, Path]:
    chosen = {"subject": templates.subject, "text": templates.text, "html": templates.html}
    return {part: settings.resolve(path) for part, path in chosen.items() if path}


def build_routes(settings: Settings, config_name: str) -> list[AlertRoute]:
    routes: list[AlertRoute] = []
    problems: list[str] = []
    for index, alert in enumerate(settings.alerts):
        notifiers: list[Notifier] = []
        try:
            templates = MessageTemplates(_template_files(settings, alert.templates))
            # An alert sends digests only in digest mode or when it holds back (throttle, quiet hours).
            digests = alert.mode is AlertMode.DIGEST or bool(alert.throttle or alert.quiet_hours)
            templates.check(sample_payloads(digest=digests))
        except (ValueError, OSError) as error:
            problems.append(f"alerts[{index}].templates: {error}")
            continue
        context = ChannelContext(settings.fetch.user_agent, settings.resolve, templates)
        for position, channel in enumerate(alert.notify):
            try:
                notifiers.append(channel.notifier(context))
            except ValueError as error:
                problems.append(f"alerts[{index}].notify[{position}].{channel.kind}: {error}")
        rules = frozenset(alert.rules) if alert.rules is not None else None
        routes.append(
            AlertRoute(
                alert.name,
                rules,
                alert.mode,
                tuple(notifiers),
                alert.max_attempts,
                alert.max_age,
                alert.every,
                alert.throttle,
                alert.quiet_hours.quiet_hours() if alert.quiet_hours else None,
            )
        )
    if problems:
        raise ConfigError(config_name, problems)
    return routes


def compile_rule(rule: RuleSettings) -> CompiledRule:
    """A watch rule as the matcher and the archive's search take it: its query, or its terms
    as an OR of phrases."""
    node = parse_query(rule.query) if rule.query is not None else terms_query(rule.terms or [])
    return CompiledRule(rule.name, rule.query or to_text(node), node)


def build_summarizer(settings: Settings) -> Summarizer:
    chosen = settings.summarizer
    if chosen.kind == "openai" and chosen.url and chosen.model:
        return OpenAISummarizer(chosen.url, chosen.model, chosen.api_key, chosen.timeout)
    return ExtractiveSummarizer()


def build_app(
    settings: Settings,
    config_name: str = "config",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> App:
    routes = build_routes(settings, config_name)
    archive = open_archive(settings)
    archive.sync_sources([(source.name, source.url) for source in settings.sources], clock())
    latest = {
        source.name: longest_wait(source.max_every or settings.interval(source))
        for source in settings.sources
    }
    for old, new in archive.respell_rules([rule.name for rule in settings.watch]).items():
        log.info("the matches of rule %r are now under its new spelling %r", old, new)
    if sooner := archive.bring_forward(latest):
        log.info("%s due sooner: the config shortened their interval", counted(len(sooner), "source"))
    fetch = settings.fetch
    fetcher = Fetcher(
        fetch.user_agent,
        fetch.timeout,
        fetch.max_bytes,
        fetch.concurrency,
        fetch.per_host,
        fetch.host_gap,
        shared_hosts=archive.host_turns,
    )
    matcher = Matcher(compile_rule(rule) for rule in settings.watch)
    dispatcher = Dispatcher(archive, routes, clock)
    pipeline = Pipeline(
        archive,
        fetcher,
        matcher,
        settings,
        dispatcher.outbox_for,
        clock,
        summarizer=build_summarizer(settings),
    )
    return App(settings, archive, fetcher, matcher, dispatcher, pipeline, clock)
