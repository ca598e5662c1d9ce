"""A short extractive summary that says why an article matched: the lead sentence and the
sentences holding hits, in document order, within a length budget."""

from __future__ import annotations

import re

from monitor.models import Hit

MAX_SENTENCES = 3
MAX_CHARS = 600
# A sentence ends at CJK full stops, or at .!? followed by space (not after a lone initial).
_SENTENCE_END = re.compile(r"(?<=[。！？!?])\s*|(?<=[.!?][\"'”’)\]])\s+|(?<=(?<![A-Z])[.!?])\s+")


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of a text."""
    spans: list[tuple[int, int]] = []
    start = 0
    for gap in _SENTENCE_END.finditer(text):
        if gap.start() > start:
            spans.append((start, gap.start()))
        start = gap.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(low, high) for low, high in spans if text[low:high].strip()]


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
