"""Language tags as analysts filter by them: what `lang:`, `--lang` and a source's `language:`
take, and the one form every declared or detected tag is stored in.

Identifiers and publishers know some varieties by their own ISO 639-3 codes: Simplified Chinese
news is often tagged `wuu` (Wu), Egyptian Arabic `arz`. Analysts filter by the macrolanguage
(`zh`, `ar`), so every code is brought to it; `--lang zh` then finds them. Publishers also write
three-letter codes (`eng`, `fre`), codes ISO 639 has withdrawn (`iw` for Hebrew, from Java's
locales) and languages' names (`English`): CLDR's aliases and names (through Babel, which the
page extractor's courlan brings anyway) bring them to the two-letter code.
"""

from __future__ import annotations

import re
from functools import cache

# A BCP 47 tag's language and subtags: en, zh-TW, zh-Hant-HK, yue-HK.
_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
# Varieties, historical stages and withdrawn codes -> the code an analyst filters by (None:
# not a language).
MACROLANGUAGES: dict[str, str | None] = {
    "cmn": "zh", "wuu": "zh", "yue": "zh", "hak": "zh", "nan": "zh", "gan": "zh", "hsn": "zh",
    "arb": "ar", "ary": "ar", "arz": "ar", "apc": "ar", "acm": "ar", "ajp": "ar",
    "hbo": "he", "grc": "el", "uzs": "uz", "uzn": "uz", "sdh": "ku", "ckb": "ku", "kmr": "ku",
    "gug": "gn", "fuv": "ff", "pes": "fa", "prs": "fa", "zsm": "ms", "nb": "no",
    "zxx": None, "und": None, "mul": None,  # no language, undetermined, several
    "utf": None,  # lang="utf-8": a charset where the language belongs; no ISO 639 code
}  # fmt: skip


def _is_code(code: str) -> bool:
    """Whether this is a language tag's language and subtags (any case), as filters take."""
    return _CODE.fullmatch(code.lower()) is not None


def filter_code(given: str) -> str | None:
    """A code as lang:, --lang and ?lang= compare it with articles' languages: brought to the
    form tags are stored in (iw is he), lowercased as the comparison is; None for no code."""
    tag = given.strip().replace("_", "-")
    if not _is_code(tag):
        return None
    return (macrolanguage(tag) or tag).lower()


def within(language: str, code: str) -> bool:
    """Whether a (lowercased) language is the code or one of its variants: zh-tw is within zh."""
    return language == code or language.startswith(f"{code}-")


def macrolanguage(code: str | None) -> str | None:
    """A language tag with its primary subtag brought to the macrolanguage (`wuu` -> `zh`,
    `yue-HK` -> `zh-HK`, `en_US` -> `en-US`, `iw` -> `he`, `eng` -> `en`) and a language's
    English name to its code (`English` -> `en`); None for none, for no language (`zxx`, `und`)
    and for what is neither (`utf-8`): the text's own language is told then."""
    if code is None:
        return None
    tag = code.strip().replace("_", "-")
    if not _is_code(tag):
        return _names().get(tag.casefold())
    primary, _, rest = tag.partition("-")
    primary = primary.lower()
    if len(primary) == 3 or primary in ("iw", "in", "ji", "jw", "mo"):
        primary = _aliases().get(primary, primary)
    if primary in MACROLANGUAGES:
        mapped = MACROLANGUAGES[primary]
        if mapped is None:
            return None
        primary = mapped
    return "-".join([primary, *map(_subtag_case, rest.split("-"))]) if rest else primary


def _subtag_case(subtag: str) -> str:
    """BCP 47's case for a subtag: a region upper (TW), a script titled (Hant), others lower;
    so en-us and en-US are one tag, in a chart's lines by language too."""
    if len(subtag) == 2 and subtag.isalpha():
        return subtag.upper()
    return subtag.title() if len(subtag) == 4 and subtag.isalpha() else subtag.lower()


@cache
def _aliases() -> dict[str, str]:
    """CLDR's aliases of language codes without a region: `eng` -> `en`, `iw` -> `he`."""
    from babel.core import get_global  # here: most tags are two letters and need none of it

    aliases = get_global("language_aliases")
    return {old: new for old, new in aliases.items() if "_" not in old and "_" not in new}


@cache
def _names() -> dict[str, str]:
    """Languages' English names (CLDR) -> their codes: `english` -> `en`, `hebrew` -> `he`."""
    from babel import Locale

    return {name.casefold(): code for code, name in Locale("en").languages.items() if "_" not in code}
