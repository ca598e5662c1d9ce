"""Search builds its result records through slot_builder: they must be the class's own."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from monitor.archive.rows import slot_builder
from monitor.models import ArchivedArticle, Article, Hit
from tests.archive.helpers import make_article


def test_records_built_are_equal_frozen_and_complete() -> None:
    article = make_article("a1", fingerprint=tuple(range(64)), content_hash="h1")
    values = [getattr(article, field.name) for field in dataclasses.fields(Article)]
    built = slot_builder(Article)(*values)
    assert type(built) is Article and built == article and hash(built) == hash(article)
    assert repr(built) == repr(article)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.title = "changed"  # type: ignore[misc]
    shown = slot_builder(ArchivedArticle)(built, (("Tide Wire", "https://wire.test/a1"),))
    assert shown == ArchivedArticle(article, (("Tide Wire", "https://wire.test/a1"),))
    with pytest.raises(TypeError):
        slot_builder(Hit)("rule", "term")  # every field is given, defaults too


def test_only_slotted_dataclasses_without_post_init_are_built() -> None:
    @dataclass(frozen=True)
    class Unslotted:
        name: str

    @dataclass(frozen=True, slots=True)
    class Checked:
        name: str

        def __post_init__(self) -> None:
            if not self.name:
                raise ValueError("a name is needed")

    for cls in (Unslotted, Checked):
        with pytest.raises(TypeError, match="not a slotted dataclass"):
            slot_builder(cls)
