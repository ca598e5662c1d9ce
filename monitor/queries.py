"""The archive's read side, in one place for the command line and the HTTP API (monitor/serve/):
search with the rule language and every filter, the sources' health and the alert history, as
the public JSON shapes of payloads.py, so that both always say the same."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.archive import Archive, SearchFilters
from monitor.config.durations import format_duration
from monitor.config.settings import Settings
from monitor.errors import SearchTooSlow, UsageError
from monitor.language_codes import filter_code
from monitor.models import AlertState, ArchivedArticle, PollResult, SourceState
from monitor.moments import moment, until_moment
from monitor.names import known_names, name_key, name_listing
from monitor.payloads import iso
from monitor.rules import Node, parse_query, sourceless_fields, to_text
from monitor.rules.ast import field_terms


@dataclass(frozen=True, slots=True)
class SearchAsked:
    """A search as a user words it: the query and each filter as text, checked by `search`."""

    query: str
    since: str | None = None
    fetched_since: str | None = None
    until: str | None = None
    sources: Sequence[str] = ()
    rules: Sequence[str] = ()
    matched: bool = False
    language: str | None = None
    limit: int = 50


def search(archive: Archive, settings: Settings, asked: SearchAsked) -> list[ArchivedArticle]:
    """The archive's answer to `monitor search`, newest first. QueryError when the query does
    not parse; UsageError for an unknown source (filter or source: field) or rule, a bad date
    or limit, naming the command's options."""
    filters = search_filters(archive, settings, asked, options="--")
    return archive.search(searched_query(archive, settings, asked.query), filters)


def query_of(text: str) -> Node | None:
    """The query parsed (QueryError when it does not parse); None for a blank one, which every
    article matches: the filters alone choose (a source's newest articles, say)."""
    return parse_query(text) if text.strip() else None


def searched_query(archive: Archive, settings: Settings, text: str) -> Node | None:
    """query_of() the text, its source: fields checked against the sources configured or in the
    archive: UsageError for one no source name holds, as `--source` gives for a name none has."""
    query = query_of(text)
    if query is None or not field_terms(query, "source"):
        return query
    names = known_source_names(archive, settings)
    unknown = sourceless_fields(query, names)
    if unknown:
        raise UsageError(f"{', '.join(unknown)}: no source's name holds it (known: {name_listing(names)})")
    return query


def known_source_names(archive: Archive, settings: Settings) -> set[str]:
    """The sources a search may name: the configured ones and those the archive has polled."""
    return {source.name for source in settings.sources} | {state.name for state in archive.source_states()}


def search_filters(
    archive: Archive, settings: Settings, asked: SearchAsked, options: str = ""
) -> SearchFilters:
    """The search's filters, checked: UsageError for an unknown source or rule, a bad date or
    limit, its dates named as the parameters they were (`options`: "--" for the command's)."""
    if asked.limit < 1:
        raise UsageError(f"limit {asked.limit}: give at least 1")
    sources = known_source_names(archive, settings) if asked.sources else set()
    given = (asked.language or "").strip()
    language = filter_code(given) if given else None
    if given and language is None:
        raise UsageError(f"lang {asked.language!r}: give a language code such as en, zh or zh-TW")
    since, until = moment(asked.since, f"{options}since"), until_moment(asked.until, f"{options}until")
    if since is not None and until is not None and since >= until:
        raise UsageError("since is not before until")  # as the mention counts say: not an empty answer
    return SearchFilters(
        since=since,
        fetched_since=moment(asked.fetched_since, f"{options}fetched-since" if options else "fetched_since"),
        until=until,
        sources=known_names(list(asked.sources), sources, "source"),
        rules=known_names(list(asked.rules), [rule.name for rule in settings.watch], "watch rule"),
        matched=asked.matched,
        language=language,
        limit=asked.limit,
    )


ACTIVITY_DAYS = 7  # entries per day: the average over this many days


def source_health(
    archive: Archive, settings: Settings, activity: bool = False, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Each configured source's health, in the config's order; one not polled yet shows as new.
    With `activity`, also when its newest article arrived and its articles per day (published
    in the last ACTIVITY_DAYS days before `now`, default: when it counts)."""
    states = {state.name: state for state in archive.source_states()}
    # A source renamed in case or Unicode form only is the same source (names.name_key): the
    # state of its spelling polled last, and its articles under every spelling, are its own.
    spellings = _spellings([source.name for source in settings.sources], states)
    now = now or datetime.now(UTC)
    health = [
        _health(source.name, source.url, _state_of(spellings[source.name], states), now)
        for source in settings.sources
    ]
    if activity:
        every = [spelled for record in health for spelled in spellings[record["name"]]]
        active = archive.stats.source_activity(now - timedelta(days=ACTIVITY_DAYS), now, every)
        for record in health:
            found = [active[spelled] for spelled in spellings[record["name"]] if spelled in active]
            newest = max((arrived for arrived, _ in found), default=None)
            record["last_new_article"] = iso(newest)
            record["articles_per_day"] = round(sum(count for _, count in found) / ACTIVITY_DAYS, 1)
    return health


def _spellings(names: Sequence[str], known: Iterable[str]) -> dict[str, list[str]]:
    """Each name, and the known names that are the same name (names.name_key) after it."""
    by_key: dict[str, list[str]] = {}
    for spelled in known:
        by_key.setdefault(name_key(spelled), []).append(spelled)
    return {name: [name, *sorted(set(by_key.get(name_key(name), [])) - {name})] for name in names}


def _state_of(spellings: Sequence[str], states: dict[str, SourceState]) -> SourceState | None:
    """The state of the source's spelling polled last (a daemon starting on the new spelling
    makes its state before it polls it: never fetched, the old one's is the news); of the name
    as configured where none was polled."""
    known = [states[spelled] for spelled in spellings if spelled in states]
    polled = [state for state in known if state.last_fetch is not None]
    if polled:
        return max(polled, key=lambda state: state.last_fetch or datetime.min.replace(tzinfo=UTC))
    return known[0] if known else None


def _health(name: str, url: str, state: SourceState | None, now: datetime) -> dict[str, Any]:
    polling = state.polling_since(now) if state else None
    if state is None:  # added to the config since the daemon started (it reads the config once)
        status = "new: not polled yet"
    elif state.last_fetch is None:
        # A first poll of thousands of items, each page read in turn, runs for an hour.
        status = f"first poll running since {iso(polling)}" if polling else "never fetched"
    else:
        status = _status(state)
    return {
        "name": name,
        "url": state.url if state else url,
        "moved_to": state.moved_to if state else None,
        "status": status,
        "failing": bool(state and state.consecutive_errors),
        "interval": format_duration(state.interval) if state and state.interval else None,
        "last_fetch": iso(state.last_fetch) if state else None,
        "consecutive_errors": state.consecutive_errors if state else 0,
        "next_due": iso(state.next_due) if state else None,
        "last_error": state.last_error if state else None,
        "polling_since": iso(polling),
    }


def _status(state: SourceState) -> str:
    result = state.last_status.result if state.last_status else None
    if result is PollResult.GONE:
        return "gone: polling stopped"
    if result is PollResult.INTERNAL_ERROR:
        return f"INTERNAL ERROR (the monitor's fault) since {iso(state.failing_since)}"
    if result is PollResult.ARCHIVE_ERROR:
        return f"ARCHIVE ERROR (not the source's) since {iso(state.failing_since)}"
    if state.consecutive_errors:
        return f"failing since {iso(state.failing_since)}"
    return str(state.last_status or PollResult.OK)


AlertKey = tuple[datetime, str]  # an alert's place in the history: its creation and id


def alert_history(
    archive: Archive, limit: int, state: AlertState | None = None, before: AlertKey | None = None
) -> tuple[list[dict[str, Any]], AlertKey | None]:
    """The newest alert rows (of `state`, when given; older than `before`, when given), at most
    `limit`, each with its article's title and link (read in one batch); and where the next page
    begins, if one follows."""
    rows = archive.outbox.alerts(limit + 1, state, before)  # one more: whether a page follows
    following = (rows[limit - 1].created, rows[limit - 1].id) if len(rows) > limit else None
    rows = rows[:limit]
    found = archive.articles(list(dict.fromkeys(row.article_id for row in rows)))
    records: list[dict[str, Any]] = []
    for row in rows:
        archived = found.get(row.article_id)
        records.append(
            {
                "id": row.id,
                "created": iso(row.created),
                "alert": row.alert,
                "channel": row.channel,
                "rules": list(row.rules),
                "article_id": row.article_id,
                "article": archived.article.title if archived else row.article_id,
                "url": archived.article.url if archived else None,
                "state": row.state.value,
                "attempts": row.attempts,
                # When a pending row is tried again, or a held one released (quiet hours, throttle).
                "next_attempt": iso(row.next_attempt)
                if row.state in (AlertState.PENDING, AlertState.HELD)
                else None,
                "last_error": row.last_error,
            }
        )
    return records, following


MATCH_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def rules_overview(archive: Archive, settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each watch rule as written and as the matcher reads it, with how many articles published
    in the last 24 hours, 7 and 30 days (before `now`, default: when it counts) it matched."""
    from monitor.app import compile_rule

    now = now or datetime.now(UTC)
    since = [now - window for window in MATCH_WINDOWS.values()]
    counts = archive.stats.rule_matches([rule.name for rule in settings.watch], since, now)
    overview = []
    for rule in settings.watch:
        numbers = counts.get(rule.name, [0] * len(MATCH_WINDOWS))
        overview.append(
            {
                "name": rule.name,
                "query": rule.as_written(),
                "understood": to_text(compile_rule(rule).node),
                "matches": dict(zip(MATCH_WINDOWS, numbers, strict=True)),
            }
        )
    return overview


def rule_matches(
    archive: Archive,
    settings: Settings,
    name: str,
    limit: int,
    *,
    time_limit: float,
    work_limit: float | None = None,
) -> list[ArchivedArticle]:
    """The newest articles the watch rule matched (its hits), newest first: its query narrows the
    candidates through the index, the hits decide. For the read side's pages and feeds, so
    SearchTooSlow past its limits (Archive.search), as their searches."""
    from monitor.app import compile_rule

    rule = next(rule for rule in settings.watch if rule.name == name)
    filters = SearchFilters(rules=(name,), limit=limit)
    try:
        return archive.search(compile_rule(rule).node, filters, time_limit, work_limit)
    except SearchTooSlow as error:  # a reader of the page or a feed cannot narrow the search
        if error.waited:
            raise
        advice = (
            f"the rule {name!r} asks too much of the archive: narrow its query (whole words rather "
            "than a short prefix) or raise serve.search_timeout"
        )
        raise SearchTooSlow(error.seconds, advice) from None
