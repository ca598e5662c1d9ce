"""Archive rows <-> model records."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Row

from monitor.models import AlertRecord, AlertState, PollStatus, SourceState

Record = TypeVar("Record")


def slot_builder(cls: type[Record]) -> Callable[..., Record]:
    """A constructor of a frozen, slotted dataclass that takes every field positionally, in
    order, defaults included, and sets the slots through their descriptors.

    For search results: a frozen dataclass's own __init__ sets each field with a generic
    object.__setattr__, and building fifty articles that way cost half what SQLite spends
    finding and reading them. The instance is the same (equal, hashable, still frozen); no
    __post_init__ runs, so it serves only classes without one.
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" not in vars(cls) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass without __post_init__")
    names = [field.name for field in dataclasses.fields(cls)]
    namespace: dict[str, Any] = {"new_": object.__new__, "class_": cls}
    namespace |= {f"set_{name}": vars(cls)[name].__set__ for name in names}
    lines = [f"def build({', '.join(names)}):", "    record_ = new_(class_)"]
    lines += [f"    set_{name}(record_, {name})" for name in names]
    exec("\n".join([*lines, "    return record_"]), namespace)
    build: Callable[..., Record] = namespace["build"]
    return build


def source_state_from(row: Row[Any]) -> SourceState:
    return SourceState(
        name=row.name,
        url=row.url,
        next_due=row.next_due,
        etag=row.etag,
        last_modified=row.last_modified,
        last_fetch=row.last_fetch,
        last_status=PollStatus.parse(row.last_status) if row.last_status else None,
        last_error=row.last_error,
        consecutive_errors=row.consecutive_errors,
        failing_since=row.failing_since,
        moved_to=row.moved_to,
        body_hash=row.body_hash,
        last_full_fetch=row.last_full_fetch,
        interval=timedelta(seconds=row.interval_seconds) if row.interval_seconds else None,
        entry_digests=row.entry_digests or b"",
        boilerplate=row.boilerplate or b"",
        claimed_at=row.claimed_at,
    )


def alert_from(row: Row[Any]) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        alert=row.alert,
        channel=row.channel,
        story=row.story,
        article_id=row.article_id,
        rules=tuple(json.loads(row.rules)),
        state=AlertState(row.state),
        attempts=row.attempts,
        created=row.created,
        next_attempt=row.next_attempt,
        last_error=row.last_error,
        sent=row.sent,
    )
