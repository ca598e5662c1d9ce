"""The format /metrics answers in, chosen from the request's Accept header as RFC 9110 says:
OpenMetrics 1.0.0 or Prometheus's text 0.0.4, whichever the client wants more.

prometheus_client's choose_encoder takes the first range it knows, weights unread, and knows no
wildcard nor Prometheus's text below version 1.0.0: OpenMetrics refused with q=0, or wanted less
than `text/plain;version=0.0.4` (Prometheus's header with scrape_protocols listing that text
first), was sent all the same; and a version it cannot read (`version=nonsense`) was a 500. It
is now given only the format chosen here, in a form it reads."""

from __future__ import annotations

import re

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
PROMETHEUS_TEXT = ""  # choose_encoder's default: text/plain; version=0.0.4
_FORMATS = {OPENMETRICS: ("application", "openmetrics-text"), PROMETHEUS_TEXT: ("text", "plain")}
# A scraper names a few formats; ranges past these are not read (a million of them, in a header
# of a megabyte, took a second).
MOST_RANGES = 64
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def metrics_format(accept: str) -> str:
    """The Accept header to give choose_encoder for the format the client wants most (on a tie,
    or with none acceptable, Prometheus's text)."""
    ranges = [_media_range(media_range) for media_range in _split(accept, ",")[:MOST_RANGES]]
    wanted = {answer: _weight(ranges, *described) for answer, described in _FORMATS.items()}
    return OPENMETRICS if wanted[OPENMETRICS] > wanted[PROMETHEUS_TEXT] else PROMETHEUS_TEXT


def _media_range(text: str) -> tuple[str, str, dict[str, str]]:
    """(type, subtype, parameters) of a media range, lowercase but for the parameters' values."""
    kind_and_subtype, *given = _split(text, ";")
    kind, _, subtype = kind_and_subtype.strip().lower().partition("/")
    parameters = {}
    for parameter in given:
        name, _, value = parameter.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"')
    return kind, subtype, parameters


def _split(text: str, separator: str) -> list[str]:
    """`text` split at each `separator` outside a quoted string (whose commas and semicolons are
    its own), in one pass: a header of 60,000 spaces took a pattern 25 s to read."""
    if '"' not in text:
        return text.split(separator)
    pieces: list[str] = []
    piece: list[str] = []
    quoted = escaped = False
    for character in text:
        if escaped:
            escaped = False
        elif quoted and character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif character == separator and not quoted:
            pieces.append("".join(piece))
            piece = []
            continue
        piece.append(character)
    pieces.append("".join(piece))
    return pieces


def _weight(ranges: list[tuple[str, str, dict[str, str]]], kind: str, subtype: str) -> float:
    """The q of the most specific range matching the format (a version named: more specific
    than its type alone, then its type's wildcard, then */*); 0 for none. A q out of RFC 9110's
    grammar is read as none given (1)."""
    best, weight = -1, 0.0
    for given_kind, given_subtype, parameters in ranges:
        if (given_kind, given_subtype) == (kind, subtype):
            # Any version named: a scraper reads the one answered (Prometheus reads OpenMetrics
            # 0.0.1 and 1.0.0, and the text of 0.0.4 by any name).
            specificity = 3 if "version" in parameters else 2
        elif (given_kind, given_subtype) == (kind, "*"):
            specificity = 1
        elif (given_kind, given_subtype) == ("*", "*"):
            specificity = 0
        else:
            continue
        if specificity > best:
            q = parameters.get("q", "1")
            best, weight = specificity, float(q) if _QVALUE.fullmatch(q) else 1.0
    return weight
