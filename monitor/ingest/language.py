"""Language detection for articles that declare none (py3langid: small, offline, 97 languages)."""

from __future__ import annotations

SAMPLE_CHARS = 2000


def detect_language(text: str) -> str | None:
    """An ISO 639-1 code for the text, or None when there is too little to tell."""
    sample = text[:SAMPLE_CHARS]
    if sum(1 for char in sample if char.isalpha()) < 8:
        return None
    import py3langid  # here, not at the top: its model and numpy load only when a text needs it

    code, _score = py3langid.classify(sample)
    return str(code)
