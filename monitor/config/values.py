"""The value types the config's models share: strict models, durations, http(s) URLs, digest
schedules and throttles, each parsed once where the file is read."""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import idna
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer, PlainValidator

from monitor.alerts.holding import Throttle, parse_throttle
from monitor.alerts.schedules import Schedule
from monitor.config.durations import bounded_duration, parse_duration
from monitor.errors import FetchError
from monitor.net.urls import check_url


class StrictModel(BaseModel):
    """Unknown keys are refused (a misspelt key is a problem, not a silent default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> Any:
    if isinstance(value, bool):  # YAML's yes/no/on/true: pydantic would read True as one second
        raise ValueError("a yes/no value is not a duration (use e.g. 30s, 15m, 1h, 1d; 0s for none)")
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float):
        if not math.isfinite(value):  # YAML's .inf and .nan
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15m, 1h, 1d)")
        return bounded_duration(str(value), value)
    return value


def _optional_duration(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("forever", "never", "none"):
        return None
    return _duration(value)


def _http_url(value: str) -> str:
    """An http(s) URL the fetcher will follow: what it would refuse at the first poll (spaces,
    credentials, a port past 65535 or of 0, a broken IPv6 address, a host name no DNS holds)
    is refused here, at its key."""
    if not re.match(r"https?://[^/\s]+", value, re.IGNORECASE):
        raise ValueError(f"{value!r} is not an http(s) URL")
    try:
        check_url(value)
        parts = urlsplit(value)
        port, host = parts.port, parts.hostname or ""
    except FetchError as error:
        raise ValueError(error.reason.removeprefix("refused: ")) from None
    except ValueError as error:
        raise ValueError(f"{value!r} is not a usable URL: {error}") from None
    if port == 0:
        raise ValueError(f"{value!r}: port 0 is no port to fetch from")
    problem = _host_problem(host)
    if problem is not None:
        raise ValueError(f"{value!r}: {host!r} is {problem}")
    return value


def _host_problem(host: str) -> str | None:
    """Why the fetcher cannot reach a host by this name (an address, or a name as IDNA
    writes it: 256.1.1.1, 0177.0.0.1, xn--zz-zz.org and full-width letters fail there)."""
    if _is_ip(host):
        return None
    labels = host.rstrip(".").split(".")
    if all(label.isdigit() for label in labels):
        return "not an IP address"
    if host.isascii() and not any(label.startswith("xn--") for label in labels):
        if all(_HOST_LABEL.fullmatch(label) for label in labels):
            return None
        return "not a host name (letters, digits and inner hyphens)"
    try:
        idna.encode(host.rstrip("."))
    except idna.IDNAError as error:
        return f"not a host name IDNA can write: {error}"
    return None


# A label of a host name, its international letters as they are (IDNA encodes them at fetch).
_HOST_LABEL = re.compile(r"(?!-)[\w-]{1,63}(?<!-)")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def css_problem(selector: str) -> str | None:
    """Why the listing pages' parser (bs4, through soupsieve) cannot read a CSS selector; None
    when it can."""
    from bs4 import BeautifulSoup  # here: only a config with selectors needs it

    try:
        BeautifulSoup("", "lxml").select(selector)
    except Exception as error:  # soupsieve raises its own error type on a bad selector
        return str(error).splitlines()[0]
    return None


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be more than 0s (a wait of none never completes)")
    return value


def _positive_age(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be more than 0s (a failed alert would be given up at once, never retried)")
    return value


def _at_least_a_second(value: timedelta) -> timedelta:
    if value < timedelta(seconds=1):
        raise ValueError("must be at least 1s")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
TimeLimit = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]  # a timeout
Interval = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_at_least_a_second)]  # polls
AlertAge = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive_age)]  # max_age
Retention = Annotated[timedelta | None, BeforeValidator(_optional_duration)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _schedule(value: Any) -> Schedule:
    if isinstance(value, Schedule):
        return value
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f"{value!r} is neither a duration nor a cron line")
    return Schedule.parse(str(value))


def _throttle(value: Any) -> Throttle:
    if isinstance(value, Throttle):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r}: write N/hour or N/day with N at least 1")
    return parse_throttle(value)


# Parsed once here; dumped settings give them back as text (a throttle in its canonical form,
# 5/hour for 5/h).
DigestSchedule = Annotated[Schedule, PlainValidator(_schedule), PlainSerializer(str)]
StoryThrottle = Annotated[Throttle, PlainValidator(_throttle), PlainSerializer(str)]
