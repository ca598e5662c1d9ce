"""Reading the YAML file: `${ENV}` interpolation, validation, and every problem with its key path."""

from __future__ import annotations

import copy
import difflib
import os
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from monitor.alerts.channels import KINDS as CHANNEL_KINDS
from monitor.config.safe_yaml import load_yaml
from monitor.config.settings import Settings
from monitor.errors import ConfigError, QueryError
from monitor.ingest.parse.normalize import canonical_url
from monitor.names import name_key, name_listing
from monitor.rules import parse_query, sourceless_fields, terms_query
from monitor.rules.parse import MAX_TERMS

# ${NAME}, or ${NAME:-default} for a value the environment may leave unset (or empty), as in
# the shell and in docker-compose files; $${ is a literal ${ (what `sources add` writes of a
# feed's title or address that holds one: the environment must not be read into it).
_ENV_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
LITERAL_REFERENCE = "$${"


def key_path(location: tuple[int | str, ...]) -> str:
    """('sources', 3, 'every') -> 'sources[3].every'."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def interpolate(value: Any, path: tuple[int | str, ...], problems: list[str]) -> Any:
    """Replace ${NAME} in every string with the environment variable NAME (${NAME:-default}:
    the default when NAME is unset or empty)."""
    if isinstance(value, dict):
        return {key: interpolate(item, (*path, str(key)), problems) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, (*path, index), problems) for index, item in enumerate(value)]
    if isinstance(value, str):

        def substitute(found: re.Match[str]) -> str:
            if found.group(0) == LITERAL_REFERENCE:
                return "${"
            name, default = found.group(1), found.group(2)
            if default is not None:
                return os.environ.get(name) or default
            if name not in os.environ:
                problems.append(f"{key_path(path)}: environment variable {name} is not set")
                return ""
            return os.environ[name]

        nested = any("${" in (found.group(2) or "") for found in _ENV_REFERENCE.finditer(value))
        if nested or "${" in _ENV_REFERENCE.sub("", value):
            problems.append(
                f"{key_path(path)}: {value!r} holds a reference this config cannot read: "
                "write ${NAME} or ${NAME:-default}"
            )
            return value
        return _ENV_REFERENCE.sub(substitute, value)
    return value


def load_settings(path: Path) -> Settings:
    """Read and validate the config; raises ConfigError listing every problem."""
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read: {error.strerror or error}"]) from error
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        raise ConfigError(str(path), [f"not UTF-8 text (byte {byte:#04x} at offset {error.start})"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}not valid YAML ({error})"]) from error
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["(top level): expected a mapping of keys"])
    problems: list[str] = []
    try:
        data = interpolate(raw, (), problems)
    except RecursionError:  # an alias inside what it names: `x: &a [*a]`
        raise ConfigError(str(path), ["not valid YAML (a value holds itself, through an alias)"]) from None
    data["base_dir"] = path.resolve().parent
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        unset = {problem.split(": ", 1)[0] for problem in problems}  # said once: its variable is unset
        described = [_describe(item) for item in error.errors()]
        problems += [problem for problem in described if not _within(problem.split(": ", 1)[0], unset)]
        problems += _query_problems(data.get("watch"))  # the schema's errors hide none of these
        problems += _problems_beside(data, error, problems)
        raise ConfigError(str(path), problems) from None
    problems += semantic_problems(settings)
    if problems:
        raise ConfigError(str(path), problems)
    return settings


def _problems_beside(data: dict[str, Any], error: ValidationError, known: list[str]) -> list[str]:
    """The semantic problems of the rest of the file: each key the schema refused is taken out
    (its default stands in) and the file validated again, so that one bad value does not hide
    a repeated name. Nothing when a refused value cannot be taken out alone (a missing key, a
    list item)."""
    rest = copy.deepcopy(data)
    for item in error.errors():
        *parents, key = _location(item)
        holder: Any = rest
        for part in parents:
            if isinstance(holder, dict):
                holder = holder.get(part)
            elif isinstance(holder, list) and isinstance(part, int) and part < len(holder):
                holder = holder[part]
            else:
                return []
        if not isinstance(holder, dict) or key not in holder:
            return []
        del holder[key]
    try:
        settings = Settings.model_validate(rest)
    except ValidationError:
        return []
    return [problem for problem in semantic_problems(settings) if problem not in known]


def _location(item: Any) -> tuple[int | str, ...]:
    """The key path of a validation error, without what pydantic adds: validator names, and
    the tag of a channel entry (its kind, which is also its key: `notify[0].webhook.webhook.url`
    is `notify[0].webhook.url`)."""
    parts = [part for part in item["loc"] if not str(part).startswith("function-")]
    location: list[int | str] = []
    for index, part in enumerate(parts):
        after_entry = index >= 2 and parts[index - 2] == "notify" and isinstance(parts[index - 1], int)
        if not (after_entry and part in CHANNEL_KINDS):
            location.append(part)
    return tuple(location)


def _within(path: str, paths: set[str]) -> bool:
    """Whether the key path is one of `paths`, inside one, or the list whose item one is
    (serve.tokens, of serve.tokens[0])."""
    return any(
        path == other
        or path.startswith((other + ".", other + "["))
        or (other.startswith(path) and re.fullmatch(r"\[\d+\]", other[len(path) :]))
        for other in paths
    )


def _describe(item: Any) -> str:
    location = _location(item)
    message = str(item["msg"]).removeprefix("Value error, ")
    if item["type"] == "string_type" and isinstance(item["input"], bool | int | float):
        # YAML reads 1984, 12:30 (as 750), 007 and no (as false) as other than text.
        read_as = "yes/no" if isinstance(item["input"], bool) else "a number"
        message = f"YAML read this as {read_as} ({item['input']!r}): put it in quotes to mean the text"
    if item["type"] == "model_type":  # pydantic's words name our classes: say what is expected
        message = f"expected a section of keys, not {item['input']!r}"
    if item["type"] == "extra_forbidden":
        message = "unknown key"
        close = difflib.get_close_matches(str(location[-1]), _keys_beside(location), n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    return f"{key_path(location)}: {message}"


def _keys_beside(location: tuple[int | str, ...]) -> list[str]:
    """The keys the config takes beside the last one of `location`; none where the schema is
    not one section's (a channel entry is one of several kinds)."""
    shape: Any = Settings
    for part in location[:-1]:
        shape = _one_model_or_list(shape)
        if isinstance(part, int) and get_origin(shape) is list:
            shape = get_args(shape)[0]
        elif isinstance(shape, type) and issubclass(shape, BaseModel) and str(part) in shape.model_fields:
            shape = shape.model_fields[str(part)].annotation
        else:
            return []
    shape = _one_model_or_list(shape)
    if isinstance(shape, type) and issubclass(shape, BaseModel):
        return [name for name in shape.model_fields if name != "base_dir"]
    return []


def _one_model_or_list(shape: Any) -> Any:
    """`shape` without Annotated, and of a union (X | None) the one model or list it allows."""
    while get_origin(shape) is Annotated:
        shape = get_args(shape)[0]
    if get_origin(shape) in (Union, UnionType):
        chosen = [arg for arg in get_args(shape) if arg is not type(None)]
        return _one_model_or_list(chosen[0]) if len(chosen) == 1 else None
    return shape


def semantic_problems(settings: Settings) -> list[str]:
    """What the schema cannot say: unique names, rules that parse, references that exist."""
    problems = _repeated_names("sources", "name", [source.name for source in settings.sources])
    problems += _repeated_names("watch", "rule name", [rule.name for rule in settings.watch])
    # An alert's rows in the outbox are its name's: a second alert of one name took the first's place.
    problems += _repeated_names("alerts", "alert name", [alert.name for alert in settings.alerts])
    problems += [
        f"sources: {url} is given {count} times ({', '.join(names)}); each would be polled and stored twice"
        for url, (count, names) in _repeated_urls(settings).items()
    ]
    problems += _query_problems([rule.model_dump(include={"query", "terms"}) for rule in settings.watch])
    problems += _source_field_problems(settings)
    rule_names = {name_key(rule.name): rule.name for rule in settings.watch}
    exact_names = {rule.name for rule in settings.watch}
    for index, alert in enumerate(settings.alerts):
        for name in alert.rules or []:
            if name in exact_names:
                continue
            if name_key(name) not in rule_names:
                problems.append(f"alerts[{index}].rules: no watch rule is named {name!r}")
            elif name != (configured := rule_names[name_key(name)]):  # alerts route by the exact name
                problems.append(
                    f"alerts[{index}].rules: no watch rule is named {name!r}: write it {configured!r}"
                )
        for number, channel in enumerate(alert.notify):
            problem = channel.problem(settings.resolve)
            if problem is not None:
                problems.append(f"alerts[{index}].notify[{number}].{channel.kind}: {problem}")
    return problems


def _repeated_names(section: str, what: str, names: list[str]) -> list[str]:
    """Names used twice, also when they differ only in case or Unicode form (name_key): the
    command line, the API and the pages look names up that way (`Straße` and `STRASSE` are one)."""
    alike: dict[str, list[str]] = {}
    for name in names:
        alike.setdefault(name_key(name), []).append(name)
    problems = []
    for spelled in alike.values():
        if len(spelled) < 2:
            continue
        if len(set(spelled)) == 1:
            problems.append(
                f"{section}: the {what} {spelled[0]!r} is used {len(spelled)} times (names must be unique)"
            )
        else:
            listed = ", ".join(repr(name) for name in dict.fromkeys(spelled))
            problems.append(
                f"{section}: the {what}s {listed} differ only in case or Unicode form "
                "(names must be unique ignoring both)"
            )
    return problems


def _query_problems(watch: object) -> list[str]:
    """Each rule's query or terms that do not parse, from the validated rules or the raw file."""
    problems: list[str] = []
    for index, rule in enumerate(watch if isinstance(watch, list) else []):
        if not isinstance(rule, dict):
            continue
        if isinstance(rule.get("query"), str):
            try:
                parse_query(rule["query"])
            except QueryError as error:
                problems.append(f"watch[{index}].query: {error}\n    {_indent(error.pointer())}")
        elif isinstance(terms := rule.get("terms"), list) and all(isinstance(term, str) for term in terms):
            problems += _terms_problems(f"watch[{index}].terms", terms)
    return problems


def _source_field_problems(settings: Settings) -> list[str]:
    """Rules whose source: fields no configured source's name holds: misspelt, such a rule
    would never match, and nothing would say so."""
    names = [source.name for source in settings.sources]
    problems = []
    for index, rule in enumerate(settings.watch):
        try:
            query = parse_query(rule.query) if rule.query is not None else None
        except QueryError:
            continue  # _query_problems says why
        unknown = sourceless_fields(query, names) if query is not None else []
        if unknown:
            problems.append(
                f"watch[{index}].query: {', '.join(unknown)}: no source's name holds it "
                f"(sources: {name_listing(names)})"
            )
    return problems


def _terms_problems(where: str, terms: list[str]) -> list[str]:
    """What is wrong with a `terms:` list: the list itself, or its entries by index."""
    try:
        terms_query(terms)
    except QueryError as error:
        if not terms or len(terms) > MAX_TERMS:
            return [f"{where}: {error.message}"]
    problems = []
    for index, term in enumerate(terms):
        try:
            terms_query([term])
        except QueryError as error:
            problems.append(f"{where}[{index}]: {error.message}")
    return problems


def _repeated_urls(settings: Settings) -> dict[str, tuple[int, list[str]]]:
    by_url: dict[str, list[str]] = {}
    for source in settings.sources:
        by_url.setdefault(canonical_url(source.url), []).append(source.name)
    return {url: (len(names), names) for url, names in by_url.items() if len(names) > 1}


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


def config_path(argument: str | None) -> Path:
    """-c/--config, else MONITOR_CONFIG, else config/monitor.yaml."""
    return Path(argument or os.environ.get("MONITOR_CONFIG") or "config/monitor.yaml")
