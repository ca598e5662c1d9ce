"""Language tags as analysts filter by them: what `lang:`, `--lang` and a source's `language:`
take, and the one form every declared or detected tag is stored in.

Identifiers and publishers know some varieties by their own ISO 639-3 codes: Simplified Chinese
news is often tagged `wuu` (Wu), Egyptian Arabic `arz`. Analysts filter by the macrolanguage
(`zh`, `ar`), so every code is brought to it; `--lang zh` then finds them. Codes ISO 639 has
withdrawn but software still writes (`iw` for Hebrew, from Java's locales) are brought to
today's.
"""

from __future__ import annotations

import re

# A BCP 47 tag's language and subtags: en, zh-TW, zh-Hant-HK, yue-HK.
_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
# Varieties, historical stages and withdrawn codes -> the code an analyst filters by (None:
# not a language).
MACROLANGUAGES: dict[str, str | None] = {
    "cmn": "zh", "wuu": "zh", "yue": "zh", "hak": "zh", "nan": "zh", "gan": "zh", "hsn": "zh",
    "arb": "ar", "ary": "ar", "arz": "ar", "apc": "ar", "acm": "ar", "ajp": "ar",
    "hbo": "he", "grc": "el", "uzs": "uz", "uzn": "uz", "sdh": "ku", "ckb": "ku", "kmr": "ku",
    "gug": "gn", "fuv": "ff", "pes": "fa", "prs": "fa", "zsm": "ms", "nb": "no", "zxx": None,
    "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro",
}  # fmt: skip


def is_language_code(code: str) -> bool:
    """Whether this is a language tag's language and subtags (any case), as filters take."""
    return _CODE.fullmatch(code.lower()) is not None


def macrolanguage(code: str | None) -> str | None:
    """A language tag with its primary subtag brought to the macrolanguage (`wuu` -> `zh`,
    `yue-HK` -> `zh-HK`, `en_US` -> `en-US`, `iw` -> `he`); None for none, for "no linguistic
    content" and for what is no tag (`English`, `utf-8`): the text's own language is told then."""
    if code is None or not is_language_code(tag := code.strip().replace("_", "-")):
        return None
    primary, _, rest = tag.partition("-")
    primary = primary.lower()
    if primary in MACROLANGUAGES:
        mapped = MACROLANGUAGES[primary]
        if mapped is None:
            return None
        primary = mapped
    return f"{primary}-{rest}" if rest else primary
