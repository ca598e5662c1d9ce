"""Language detection for articles that declare none (py3langid: small, offline, 97 languages),
its codes brought to the macrolanguage analysts filter by (monitor.language_codes)."""

from __future__ import annotations

import threading
from typing import Any

import regex

from monitor.language_codes import completed_subtags, macrolanguage

SAMPLE_CHARS = 2000
# py3langid loads its model (about 40 MB) on first use without a lock: articles analysed in
# parallel threads each loaded a copy at once, four at a time under hostile input.
_LOADING = threading.Lock()
_identifier: Any = None


def article_language(declared: str | None, text: str) -> str | None:
    """The language of an article: the one its feed or page declares, unless that is written
    in a script the text is not (blog platforms declare `en-us` over Chinese, Hebrew or Russian
    posts); then, as for one that declares none, the language the text is in."""
    if declared is not None and not _written_otherwise(declared, text[:SAMPLE_CHARS]):
        return declared
    return detect_language(text)


def _written_otherwise(declared: str, sample: str) -> bool:
    """Whether most of the text's letters (of the scripts counted) are in scripts other than
    the one the declared language is written in (CLDR's likely script of the language): a
    Chinese article quoting English names holds Han enough, a Hebrew post under `en-us` holds
    little Latin. A Han, kana or Hangul character counts as the Latin letters of its sense
    (SYLLABLE_LETTERS): counted one for one, a Chinese post under `en-us` naming E-Ten and
    M500 passed for English."""
    expected = language_scripts(declared)
    if not expected:
        return False  # a script we do not count: the declaration stands
    counts = {
        script: len(pattern.findall(sample)) * (SYLLABLE_LETTERS if script in _SYLLABIC else 1)
        for script, pattern in _SCRIPTS.items()
    }
    letters = sum(counts.values())
    own = sum(counts[script] for script in expected)
    return letters >= 20 and own < 0.5 * letters


def detect_language(text: str) -> str | None:
    """An ISO 639-1 code for the text (the macrolanguage), or None when there is too little to tell."""
    sample = text[:SAMPLE_CHARS]
    if sum(1 for char in sample if char.isalpha()) < 8:
        return None
    code, _score = _loaded_identifier().classify(sample)
    return macrolanguage(str(code))


# A Chinese word is one or two characters, an English one five letters: on the feeds of
# ../shared/bench/feeds, weighing them so asked detection for 148 posts more (blogs' en-us
# over Chinese, Japanese, Korean and Hebrew posts), each of them rightly.
SYLLABLE_LETTERS = 3
_SYLLABIC = frozenset({"Han", "Hiragana", "Katakana", "Hangul"})
_SCRIPTS = {
    name: regex.compile(rf"\p{{Script={name}}}")
    for name in (
        "Latin",
        "Cyrillic",
        "Greek",
        "Hebrew",
        "Arabic",
        "Han",
        "Hiragana",
        "Katakana",
        "Hangul",
        "Thai",
        "Devanagari",
    )
}
# CLDR's script codes -> the scripts counted above that write them.
_WRITTEN_IN = {
    "latn": ("Latin",), "cyrl": ("Cyrillic",), "grek": ("Greek",), "hebr": ("Hebrew",),
    "arab": ("Arabic",), "hans": ("Han",), "hant": ("Han",), "jpan": ("Han", "Hiragana", "Katakana"),
    "kore": ("Hangul", "Han"), "thai": ("Thai",), "deva": ("Devanagari",),
}  # fmt: skip


# Languages written in Latin letters as well as in their likely script (Serbian, Uzbek, …).
_ALSO_LATIN = frozenset({"sr", "sh", "bs", "uz", "az", "kk", "ky", "tk", "tg", "tt", "ku", "mn", "ba", "cnr"})


def language_scripts(code: str) -> tuple[str, ...]:
    """The scripts a language tag is written in (its own script subtag, else CLDR's likely
    one): en -> Latin, zh-TW -> Han, ja -> Han and kana, sr -> Cyrillic and Latin; () for a
    script not counted here."""
    lowered = code.lower()
    script, _region = completed_subtags(lowered)
    scripts = _WRITTEN_IN.get(script or "", ())
    if lowered.split("-")[0] in _ALSO_LATIN and "-" not in lowered:
        scripts += ("Latin",)
    return scripts


def _loaded_identifier() -> Any:
    """py3langid's identifier, loaded once whatever the number of threads asking."""
    global _identifier
    with _LOADING:
        if _identifier is None:
            # Here, not at the top: its model and numpy load only when a text needs it.
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    return _identifier
