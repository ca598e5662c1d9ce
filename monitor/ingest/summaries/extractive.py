"""A short extractive summary that says why an article matched: the lead sentence and the
sentences holding hits, in document order, within a length budget."""

from __future__ import annotations

import re

from monitor.models import Hit

MAX_SENTENCES = 3
MAX_CHARS = 600
# Full stops that always end a sentence (CJK; Arabic and Urdu question mark and full stop;
# the Devanagari danda), and Latin-style ones that do unless an abbreviation or initial precedes.
_ALWAYS = "。！？؟۔।"
_CANDIDATE = re.compile(rf"[{_ALWAYS}]+[」』”）)״\"]*|[.!?]+[\"'”’)\]״׳]*(?=\s|$)")
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "maj", "capt", "sgt", "adm", "sen",
        "rep", "gov", "pres", "st", "jr", "sr", "inc", "ltd", "co", "corp", "vs", "etc", "no",
        "nos", "vol", "fig", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
        "nov", "dec", "approx", "dept",
    }
)  # fmt: skip
_INITIALISM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]?")  # U.S., ת.ד.
_NEXT_CHARACTER = re.compile(r"\s*(\S)")
_WORD_WINDOW = 64  # longer than any abbreviation or initialism


def _ends_sentence(text: str, mark: re.Match[str]) -> bool:
    if mark.group()[0] in _ALWAYS:
        return True
    if mark.group()[0] != ".":
        return True
    # Only the text next to the mark is read: a sentence split costs the same at any offset.
    before = text[max(0, mark.start() - _WORD_WINDOW) : mark.start()].split()
    word = before[-1] if before else ""
    # An initial: "J. Smith", "א. כהן" (a letter of a script without case counts too).
    if word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isalpha() and not word.islower()):
        return False
    if _INITIALISM.fullmatch(word + "."):
        return False
    following = _NEXT_CHARACTER.match(text, mark.end())
    return following is None or not following.group(1).islower()


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of a text: Latin, Cyrillic and Hebrew punctuation (with
    abbreviations and initials, and Hebrew's geresh and gershayim inside words: ד"ר, צה"ל),
    CJK full stops, Arabic and Devanagari ones."""
    spans: list[tuple[int, int]] = []
    start = 0
    for mark in _CANDIDATE.finditer(text):
        if not _ends_sentence(text, mark):
            continue
        if text[start : mark.end()].strip():
            spans.append((start, mark.end()))
        start = mark.end()
        while start < len(text) and text[start].isspace():
            start += 1
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def summarize(title: str, body: str, body_field: str, hits: list[Hit]) -> str:
    """The lead sentence and the hit sentences of `body` (the field named `body_field`)."""
    spans = sentences(body)
    if not spans:
        return title[:MAX_CHARS]
    hit_offsets = [hit.start for hit in hits if hit.field == body_field]
    chosen: list[int] = []
    for offset in hit_offsets:
        index = next((i for i, (low, high) in enumerate(spans) if low <= offset < high), None)
        if index is not None and index not in chosen:
            chosen.append(index)
    lead = [0] if 0 not in chosen else []
    picked = sorted((lead + chosen)[:MAX_SENTENCES])
    parts: list[str] = []
    length = 0
    for index in picked:
        low, high = spans[index]
        sentence = " ".join(body[low:high].split())
        if length + len(sentence) > MAX_CHARS:
            sentence = sentence[: max(0, MAX_CHARS - length - 1)].rsplit(" ", 1)[0] + "…"
        parts.append(sentence)
        length += len(sentence) + 1
        if length >= MAX_CHARS:
            break
    return " ".join(part for part in parts if part)
