"""Language detection for articles that declare none (py3langid: small, offline, 97 languages),
its codes brought to the macrolanguage analysts filter by (monitor.language_codes)."""

from __future__ import annotations

import threading
from typing import Any

from monitor.language_codes import macrolanguage

SAMPLE_CHARS = 2000
# py3langid loads its model (about 40 MB) on first use without a lock: articles analysed in
# parallel threads each loaded a copy at once, four at a time under hostile input.
_LOADING = threading.Lock()
_identifier: Any = None


def detect_language(text: str) -> str | None:
    """An ISO 639-1 code for the text (the macrolanguage), or None when there is too little to tell."""
    sample = text[:SAMPLE_CHARS]
    if sum(1 for char in sample if char.isalpha()) < 8:
        return None
    code, _score = _loaded_identifier().classify(sample)
    return macrolanguage(str(code))


def _loaded_identifier() -> Any:
    """py3langid's identifier, loaded once whatever the number of threads asking."""
    global _identifier
    with _LOADING:
        if _identifier is None:
            # Here, not at the top: its model and numpy load only when a text needs it.
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    return _identifier
