"""Language detection for articles that declare none (py3langid: small, offline, 97 languages),
and the codes analysts filter by.

The identifier knows some varieties by their own ISO 639-3 codes: Simplified Chinese news is
often tagged `wuu` (Wu), Egyptian Arabic `arz`. Analysts filter by the macrolanguage (`zh`,
`ar`), so detected and declared codes alike are brought to it; `--lang zh` then finds them.
"""

from __future__ import annotations

import threading
from typing import Any

SAMPLE_CHARS = 2000
# py3langid loads its model (about 40 MB) on first use without a lock: articles analysed in
# parallel threads each loaded a copy at once, four at a time under hostile input.
_LOADING = threading.Lock()
_identifier: Any = None
# Varieties and historical stages -> the code an analyst filters by (None: not a language).
MACROLANGUAGES: dict[str, str | None] = {
    "cmn": "zh", "wuu": "zh", "yue": "zh", "hak": "zh", "nan": "zh", "gan": "zh", "hsn": "zh",
    "arb": "ar", "ary": "ar", "arz": "ar", "apc": "ar", "acm": "ar", "ajp": "ar",
    "hbo": "he", "grc": "el", "uzs": "uz", "uzn": "uz", "sdh": "ku", "ckb": "ku", "kmr": "ku",
    "gug": "gn", "fuv": "ff", "pes": "fa", "prs": "fa", "zsm": "ms", "nb": "no", "zxx": None,
}  # fmt: skip


def macrolanguage(code: str | None) -> str | None:
    """A language tag with its primary subtag brought to the macrolanguage (`wuu` -> `zh`,
    `yue-HK` -> `zh-HK`, `en_US` -> `en-US`); None for none or for "no linguistic content"."""
    if code is None or not code.strip():
        return None
    primary, _, rest = code.strip().replace("_", "-").partition("-")
    primary = primary.lower()
    if primary in MACROLANGUAGES:
        mapped = MACROLANGUAGES[primary]
        if mapped is None:
            return None
        primary = mapped
    return f"{primary}-{rest}" if rest else primary


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
