"""The YAML configuration as pydantic models: `${ENV}` interpolation, durations, key-path errors."""

from __future__ import annotations

import ipaddress
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from monitor.alerts.channels import Channel
from monitor.alerts.holding import QuietHours
from monitor.alerts.schedules import HOURLY, AlertMode
from monitor.archive.urls import storage_url_problem
from monitor.config.durations import format_duration
from monitor.config.values import (
    AlertAge,
    DigestSchedule,
    Duration,
    HttpUrl,
    Interval,
    Retention,
    StoryThrottle,
    StrictModel,
    TimeLimit,
    css_problem,
)
from monitor.errors import QueryError
from monitor.language_codes import macrolanguage
from monitor.near_duplicates import StoryGrouping
from monitor.rules.lex import lex, narrowed

FullText = Literal["auto", "always", "never"]


class StorageSettings(StrictModel):
    url: str = "sqlite:///../storage/monitor.db"

    @field_validator("url")
    @classmethod
    def _usable(cls, url: str) -> str:
        problem = storage_url_problem(url)
        if problem:
            raise ValueError(problem)
        return url


class RetentionSettings(StrictModel):
    unmatched: Retention = timedelta(days=30)
    matched: Retention = None


class StorySettings(StrictModel):
    """Near-duplicate grouping: copies at least `similarity` alike (estimated Jaccard of word
    shingles) and fetched within `window` of each other are one story, alerted once."""

    similarity: float = Field(default=0.5, gt=0, le=1)
    window: Duration = timedelta(days=3)


class SummarizerSettings(StrictModel):
    """`extractive` (no network) or `openai`: any OpenAI-compatible endpoint, such as a local
    model server, with a fallback to extractive on any error."""

    kind: Literal["extractive", "openai"] = "extractive"
    url: str | None = None  # the API base, e.g. http://127.0.0.1:8080/v1
    model: str | None = None
    api_key: str | None = None  # e.g. ${OPENAI_API_KEY}
    timeout: TimeLimit = timedelta(seconds=20)

    @model_validator(mode="after")
    def _endpoint_given(self) -> SummarizerSettings:
        if self.kind == "openai" and not (self.url and self.model):
            raise ValueError("the openai summarizer needs url and model")
        if self.url and not re.match(r"https?://[^/\s]+", self.url):
            raise ValueError(f"{self.url!r} is not an http(s) URL")
        return self


def _summarizer(value: Any) -> Any:
    return {"kind": value} if isinstance(value, str) else value


class DefaultSettings(StrictModel):
    every: Interval = timedelta(minutes=15)
    full_text: FullText = "auto"


class FetchSettings(StrictModel):
    timeout: TimeLimit = timedelta(seconds=30)
    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    concurrency: int = Field(default=16, gt=0, le=1000)
    per_host: int = Field(default=2, gt=0, le=100)
    host_gap: Duration = timedelta(milliseconds=500)
    user_agent: str = "Mozilla/5.0 (compatible; monitor/0.1; media monitoring; +https://github.com/)"


class Selectors(StrictModel):
    item: str
    link: str = "a"
    title: str | None = None
    summary: str | None = None
    date: str | None = None

    @field_validator("item", "link", "title", "summary", "date")
    @classmethod
    def _css(cls, value: str | None) -> str | None:
        """A selector the listing's parser reads (`div[` failed every poll, not `check`)."""
        if value is not None:
            problem = css_problem(value)
            if problem is not None:
                raise ValueError(f"{value!r} is not a CSS selector: {problem}")
        return value


# A line break or NUL in a name: a form sends a line break as CRLF and an HTML parser reads a
# NUL as U+FFFD, so the pages' forms could not ask for the name (nor a log line show it whole).
_BREAKING = re.compile("[\x00\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def one_line_name(name: str) -> str:
    """The name, unless it holds a line break or a NUL (ValueError)."""
    if mark := _BREAKING.search(name):
        raise ValueError(f"the name holds a line break or NUL (U+{ord(mark.group()):04X}): remove it")
    return name


class SourceSettings(StrictModel):
    name: Annotated[str, AfterValidator(one_line_name)] = Field(min_length=1)
    url: HttpUrl
    kind: Literal["feed", "html", "sitemap"] = "feed"
    every: Interval | None = None
    language: str | None = None
    full_text: FullText | None = None
    selectors: Selectors | None = None
    allow_private: bool = False  # may this source and its links reach non-public addresses?
    robots: bool = True  # obey robots.txt when fetching this source's article pages
    min_every: Interval | None = None  # with max_every: adapt the interval to how busy it is
    max_every: Interval | None = None

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # none given: each article's is read or told
        code = macrolanguage(value)  # stored as declared ones are: cmn is zh, iw is he, English en
        if code is None:
            raise ValueError(f"{value!r} is not a language code such as en, zh or zh-TW")
        return code

    @model_validator(mode="after")
    def _bounds_in_order(self) -> SourceSettings:
        if self.min_every and self.max_every and self.min_every > self.max_every:
            raise ValueError("min_every is longer than max_every")
        return self

    @property
    def adaptive(self) -> bool:
        return self.min_every is not None or self.max_every is not None


# A term of a `terms:` list that reads as itself in the query language, unquoted.
def _quoted_term(term: str) -> str:
    """A term as the query language reads it literally: as it is where the lexer reads it as one
    plain word (no operator, field, prefix or quote), else in quotes the term does not hold."""
    try:
        tokens = lex(term)
    except QueryError:
        tokens = []
    if [token.kind for token in tokens] == ["WORD", "END"] and not tokens[0].text.endswith("*"):
        return term
    read = narrowed(term)
    for opening, closing in (('"', '"'), ("“", "”"), ("「", "」"), ("„", "“")):
        if closing not in read:
            return f"{opening}{term}{closing}"
    return term  # holds every closing quote: no way to quote it (its rule still reads it whole)


# Marks that set the direction of the text after them: in a rule's name they reversed the
# other rules' names beside it wherever names are listed.
_DIRECTION_MARKS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class RuleSettings(StrictModel):
    name: str = Field(min_length=1)
    terms: list[str] | None = None
    query: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_linkable(cls, name: str) -> str:
        if name in (".", ".."):  # a browser resolves /rules/.. away: no address could name it
            raise ValueError(f"a rule cannot be named {name!r}")
        if mark := _DIRECTION_MARKS.search(name):
            raise ValueError(f"the name holds a direction mark (U+{ord(mark.group()):04X}): remove it")
        return one_line_name(name)

    @model_validator(mode="after")
    def _one_of_terms_or_query(self) -> RuleSettings:
        if (self.terms is None) == (self.query is None):
            raise ValueError("give exactly one of 'terms' or 'query'")
        return self

    def as_written(self) -> str:
        """The rule as the config gives it: its query, or its terms as an OR of phrases."""
        if self.query is not None:
            return self.query
        return " OR ".join(map(_quoted_term, self.terms or []))


class TemplateSettings(StrictModel):
    """Jinja2 files (relative to the config file) replacing the shipped message templates."""

    subject: str | None = None
    text: str | None = None
    html: str | None = None


class QuietHoursSettings(StrictModel):
    """Local times between which nothing is sent (held, then sent as one digest at `end`)."""

    start: str
    end: str
    timezone: str = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"{value!r} is not a time of day like 22:00")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone (e.g. Asia/Taipei)") from None
        return value

    def quiet_hours(self) -> QuietHours:
        return QuietHours(
            time.fromisoformat(f"{self.start:0>5}"),
            time.fromisoformat(f"{self.end:0>5}"),
            ZoneInfo(self.timezone),
        )


class AlertSettings(StrictModel):
    name: str = Field(min_length=1)
    rules: list[str] | None = None
    mode: AlertMode = AlertMode.IMMEDIATE
    every: DigestSchedule = HOURLY  # the digest period, and where throttled alerts roll over to
    throttle: StoryThrottle | None = None  # "N/hour" or "N/day" stories; beyond it, the next digest
    quiet_hours: QuietHoursSettings | None = None
    notify: list[Channel] = Field(min_length=1)
    max_attempts: int = Field(default=12, ge=1, le=1000)  # then the alert is dead-lettered
    max_age: AlertAge = timedelta(days=2)  # ... or once it is this old, whichever comes first
    templates: TemplateSettings = TemplateSettings()


class ServeSettings(StrictModel):
    """The read side (`monitor serve`, and inside `monitor run` when `listen` is given): where
    it listens, the tokens a client must show when that is off loopback, and how long one
    search may run."""

    listen: str | None = None  # host:port, e.g. 127.0.0.1:8080
    tokens: list[str] = Field(default_factory=list)
    # A search of the API or the pages running longer is stopped (503 with what to narrow), so
    # that one asking too much cannot hold a read thread or a database connection for minutes.
    search_timeout: Duration = timedelta(seconds=10)

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_listen(value)
        return value

    @field_validator("search_timeout")
    @classmethod
    def _some_time(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= timedelta(hours=1):
            raise ValueError(f"{format_duration(value)}: give more than 0s and at most 1h")
        return value

    @field_validator("tokens")
    @classmethod
    def _real_tokens(cls, value: list[str]) -> list[str]:
        # A token its variable left empty (["${MONITOR_TOKEN:-}"]) is none: off loopback the
        # server still will not start without a real one.
        value = [token for token in value if token]
        for token in value:
            if not token.isprintable() or any(char.isspace() for char in token):
                raise ValueError("a token holds spaces or control characters: give one without")
            if len(token) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"a token of {len(token)} characters is too easy to guess: give at least "
                    f"{MIN_TOKEN_LENGTH} (python -c 'import secrets; print(secrets.token_urlsafe())')"
                )
        return value

    @model_validator(mode="after")
    def _tokens_off_loopback(self) -> ServeSettings:
        if self.listen and not self.tokens and not is_loopback(split_listen(self.listen)[0]):
            raise ValueError(
                f'listen {self.listen} is off loopback: give serve.tokens (e.g. ["${{MONITOR_TOKEN}}"]) '
                "so that only those who hold one can read the archive"
            )
        return self


MIN_TOKEN_LENGTH = 16


def split_listen(listen: str) -> tuple[str, int]:
    """host:port ([::1]:8080 for IPv6) as a host and a port number; ValueError if it is neither."""
    host, colon, port = listen.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{listen!r} is not host:port, e.g. 127.0.0.1:8080")
    if not _HOST_NAME.fullmatch(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{listen!r}: {host!r} is neither an IP address nor a host name") from None
    return host, int(port)


# Labels of letters, digits, hyphens and underscores (Docker's container names have them).
_HOST_NAME = re.compile(r"(?!-)[\w-]{1,63}(?<!-)(\.(?!-)[\w-]{1,63}(?<!-))*\.?", re.ASCII)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


class Settings(StrictModel):
    storage: StorageSettings = StorageSettings()
    retention: RetentionSettings = RetentionSettings()
    defaults: DefaultSettings = DefaultSettings()
    fetch: FetchSettings = FetchSettings()
    stories: StorySettings = StorySettings()
    summarizer: Annotated[SummarizerSettings, BeforeValidator(_summarizer)] = SummarizerSettings()
    sources: list[SourceSettings] = Field(default_factory=list)
    watch: list[RuleSettings] = Field(default_factory=list)
    alerts: list[AlertSettings] = Field(default_factory=list)
    serve: ServeSettings = ServeSettings()
    base_dir: Path = Path()

    def source(self, name: str) -> SourceSettings:
        return next(source for source in self.sources if source.name == name)

    def interval(self, source: SourceSettings) -> timedelta:
        return source.every or self.defaults.every

    def full_text(self, source: SourceSettings) -> FullText:
        return source.full_text or self.defaults.full_text

    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self.base_dir / candidate).resolve()

    def story_grouping(self) -> StoryGrouping:
        return StoryGrouping(self.stories.similarity, self.stories.window)

    def database_url(self) -> str:
        """The storage URL with a relative SQLite path resolved against the config's folder."""
        prefix = "sqlite:///"
        url = self.storage.url
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
            return prefix + str(self.resolve(url[len(prefix) :]))
        return url
