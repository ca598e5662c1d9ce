"""Alert messages for channels that carry prose (e-mail, Apprise): a subject, a plain-text body
and an HTML body, rendered by Jinja2 from the templates shipped in `templates/`, each of which
an alert may replace with a file of its own (`templates: {subject: …, text: …, html: …}`).

Templates see the alert payload (INTERFACE.md): `alert`, `digest`, `rules`, `article`; plus
`articles` (the digest's, or the one article) and `by_rule` (rule, articles) pairs, each
article under the first of its rules. Rendering runs in Jinja2's sandbox: a template file
can format the payload but not reach into the program.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from types import FrameType
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from monitor.highlights import html_marked

PARTS = ("subject", "text", "html")
_DEFAULT_FILES = {"subject": "subject.txt", "text": "text.txt", "html": "html.html"}
RENDER_DEADLINE = 5.0  # seconds for one message's three parts; the defaults take milliseconds
MAX_PRODUCT = 1_000_000  # items a `*` in a template may make (a string or list repeated)
MAX_EXPONENT = 1_000
_TEMPLATE_CODE = "<template>"  # the file name Jinja2 gives the code it compiles from a string


class TemplateRenderError(ValueError):
    """A template that parsed but failed while rendering a message."""


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str
    html: str


def _highlight(snippet: str, term: str) -> Markup:
    """The snippet, HTML-escaped, with the matched term marked where the matcher finds it, in
    any of its spellings and forms (highlights.py)."""
    return Markup(html_marked(snippet, term))


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox, also refusing what makes a huge value in one step: no deadline can stop
    a single C call such as `"x" * 10**9`, `"x"|center(10**9)` or `"%999999999d" % 1`."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > MAX_EXPONENT or left.bit_length() * right > MAX_PRODUCT:
                raise OverflowError(f"a power of more than {MAX_PRODUCT:,} bits is refused")
        elif operator == "*":
            sized, count = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(count, int) and hasattr(sized, "__len__") and len(sized) * count > MAX_PRODUCT:
                raise OverflowError(f"a value of more than {MAX_PRODUCT:,} items is refused")
        elif operator == "+" and hasattr(left, "__len__") and hasattr(right, "__len__"):
            if len(left) + len(right) > MAX_PRODUCT:
                raise OverflowError(f"a value of more than {MAX_PRODUCT:,} items is refused")
        elif operator == "%" and isinstance(left, str):
            _refuse_wide(left, _PERCENT_WIDTH)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        if getattr(value, "__name__", "") in ("format", "format_map") and isinstance(
            getattr(value, "__self__", None), str
        ):
            _refuse_wide(value.__self__, _FORMAT_WIDTH)
        return super().wrap_str_format(value)


_PERCENT_WIDTH = re.compile(r"%[#0\- +]*(?:\*|\d{5,}|\d*\.(?:\*|\d{5,}))")
_FORMAT_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?(?:\d{5,}|\{)")
MAX_WIDTH = 9_999  # of a field in a format string, or of a filter such as center()


def _refuse_wide(template: str, wide: re.Pattern[str]) -> None:
    if wide.search(template):
        raise OverflowError(
            f"a field wider than {MAX_WIDTH:,} characters (or of a width given later) is refused"
        )


def _bounded_width(name: str, filter_function: Any) -> Any:
    """A filter that takes widths (center, indent, wordwrap, truncate), refusing huge ones."""

    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        for given in (*args, *kwargs.values()):
            if isinstance(given, int) and not isinstance(given, bool) and abs(given) > MAX_WIDTH:
                raise OverflowError(f"{name}() wider than {MAX_WIDTH:,} is refused")
        return filter_function(value, *args, **kwargs)

    return bounded


def _environment(html: bool) -> SandboxedEnvironment:
    environment = _Sandbox(
        autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=False
    )
    environment.filters["highlight"] = _highlight
    for name in ("center", "indent", "wordwrap", "truncate"):
        environment.filters[name] = _bounded_width(name, environment.filters[name])
    percent_format = environment.filters["format"]

    def bounded_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse_wide(str(value), _PERCENT_WIDTH)
        return percent_format(value, *args, **kwargs)

    environment.filters["format"] = bounded_format
    return environment


class MessageTemplates:
    """The three templates of one alert, compiled once; a bad template fails at start-up."""

    def __init__(self, overrides: dict[str, Path] | None = None) -> None:
        self.deadline = RENDER_DEADLINE
        self.templates = {}
        for part in PARTS:
            path = (overrides or {}).get(part)
            source = (
                path.read_text(encoding="utf-8")
                if path is not None
                else files("monitor.alerts").joinpath("templates", _DEFAULT_FILES[part]).read_text("utf-8")
            )
            try:
                self.templates[part] = _environment(part == "html").from_string(source)
            except TemplateSyntaxError as error:
                raise ValueError(
                    f"{part} template {path or 'default'}, line {error.lineno}: {error.message}"
                ) from None
            except RecursionError:
                raise ValueError(f"{part} template {path or 'default'}: it nests too deeply") from None

    def render(self, payload: dict[str, Any]) -> Message:
        """The message for an alert payload; raises TemplateRenderError, whatever went wrong,
        including taking longer than `self.deadline` seconds (it blocks: run it in a thread)."""
        context = _context(payload)
        rendered: dict[str, str] = {}
        with _stopped_after(self.deadline):
            for part, template in self.templates.items():
                try:
                    rendered[part] = template.render(context)
                except Exception as error:  # a template is the operator's code: any failure is its own
                    raise TemplateRenderError(
                        f"the {part} template failed: {type(error).__name__}: {error}"
                    ) from None
        return Message(one_line(rendered["subject"]), rendered["text"].strip() + "\n", rendered["html"])

    def check(self, payloads: list[dict[str, Any]]) -> None:
        """Render sample payloads, so that a template failing at render time is found by
        `monitor check` and at start-up, not by the first alert."""
        for payload in payloads:
            self.render(payload)


class _Overtime(Exception):
    pass


@contextmanager
def _stopped_after(seconds: float) -> Iterator[None]:
    """Stop the template code this thread runs once `seconds` have passed.

    A loop in a template (`{% for i in range(99999) %}{% for j in range(99999) %}`) makes no call
    a sandbox could refuse; a trace function sees each line of the code Jinja2 compiled and
    raises there. Only this thread is traced, and only while it renders."""
    stop_at = time.monotonic() + seconds

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        if time.monotonic() > stop_at:
            raise _Overtime(f"took longer than {seconds:g} s")
        return trace if frame.f_code.co_filename == _TEMPLATE_CODE else None

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        yield
    finally:
        sys.settrace(previous)


def _context(payload: dict[str, Any]) -> dict[str, Any]:
    digest = bool(payload.get("digest"))
    articles: list[dict[str, Any]] = payload["articles"] if digest else [payload["article"]]
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for article in articles:
        rule = min(article.get("rules") or [""])
        by_rule.setdefault(rule, []).append(article)
    return {
        "alert": payload["alert"],
        "digest": digest,
        "rules": payload.get("rules", []),
        "article": None if digest else payload["article"],
        "articles": articles,
        "by_rule": sorted(by_rule.items()),
    }


def one_line(text: str, limit: int = 200) -> str:
    """Header-safe: no CR/LF or other control characters, bounded length."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
