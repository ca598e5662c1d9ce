"""The forms a Russian word takes in running text (pymorphy3 and its OpenCorpora dictionary):
a term `Железный купол` is written `Железного купола`, `Железным куполом`, `Железном куполе`
by the outlets that report it, and a rule must find them all."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

# pymorphy3's analyzer loads its dictionary (about 15 MB) once; rules are compiled in worker
# threads, so one lock keeps two threads from loading two copies.
_LOADING = threading.Lock()
_analyzer: Any = None
# Word classes whose forms are inflections of one word: nouns, adjectives (full form),
# participles, pronouns and numerals. Verbs' forms (tenses, persons) are left as written.
_DECLINED = frozenset({"NOUN", "ADJF", "PRTF", "NPRO", "NUMR"})
SHORTEST = 3  # letters of a word whose forms are looked up (shorter: ПВО, США are as written)


def is_cyrillic(word: str) -> bool:
    return bool(word) and all("\u0430" <= char <= "\u044f" or char == "\u0451" for char in word)


@lru_cache(maxsize=8192)
def inflected_forms(word: str) -> tuple[str, ...]:
    """The word (lowercase Cyrillic), then the other forms of the words it may be the form
    of, declined as such (of a noun its cases and numbers, of an adjective its cases,
    genders and numbers); only the word for a word of another class, or of too few letters."""
    if len(word) < SHORTEST or not is_cyrillic(word):
        return (word,)
    forms: dict[str, None] = {word: None}
    for parse in _loaded_analyzer().parse(word):
        if parse.tag.POS in _DECLINED and parse.word == word:
            forms.update((form.word, None) for form in parse.lexeme if form.tag.POS == parse.tag.POS)
    return tuple(forms)


def _loaded_analyzer() -> Any:
    global _analyzer
    with _LOADING:
        if _analyzer is None:
            import pymorphy3  # here: its dictionary loads only when a Russian term needs it

            _analyzer = pymorphy3.MorphAnalyzer()
    return _analyzer
