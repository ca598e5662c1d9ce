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

import codecs
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
    form tags are stored in (iw is he), lowercased as the comparison is; None for no code, for
    a code of no language (`und`, `zxx`: no article is stored so) and for one CLDR does not know
    as a language (`zz`, a typo), or with a script or region it does not know (`en-ZZ`): each
    would find nothing, silently."""
    tag = given.strip().replace("_", "-")
    if not _is_code(tag) or (code := macrolanguage(tag)) is None:
        return None
    primary, _, subtags = code.partition("-")
    if primary.lower() not in _language_codes() or not _known_subtags(subtags):
        return None
    return code.lower()


def _known_subtags(subtags: str) -> bool:
    """Whether a tag's script and region, if it names them, are ones CLDR knows (not Zzzz or ZZ,
    its codes for none): `en-ZZ` would find nothing, silently."""
    script, region, _ = _script_and_region(subtags)
    scripts, regions = _scripts_and_regions()
    return (script is None or script.title() in scripts) and (region is None or region.upper() in regions)


@cache
def _scripts_and_regions() -> tuple[frozenset[str], frozenset[str]]:
    from babel import Locale

    english = Locale("en")
    return frozenset(english.scripts) - {"Zzzz"}, frozenset(english.territories) - {"ZZ"}


def within(language: str, code: str) -> bool:
    """Whether a (lowercased) language tag is what a (lowercased) filter code asks. A language
    alone takes in its every variant (zh: zh-tw, zh-hant). A script or region asked must be the
    tag's, or implied by it as CLDR's likely subtags say: zh-hant takes in zh-tw and zh-hk,
    zh-tw takes in zh-hant-tw and zh-hant (Taiwan's, most likely), zh-hans takes in zh-cn. A tag
    with neither (zh, as identified from the text) tells no script or region."""
    if language == code or language.startswith(f"{code}-"):
        return True
    primary, _, asked = code.partition("-")
    if not asked or not language.startswith(f"{primary}-"):
        return False
    asked_script, asked_region, others = _script_and_region(asked)
    if others:  # a variant or extension asked: the tag's own subtags only (above)
        return False
    script, region = completed_subtags(language)
    return asked_script in (None, script) and asked_region in (None, region)


def _script_and_region(subtags: str) -> tuple[str | None, str | None, list[str]]:
    """A tag's subtags after the language: its script (four letters), its region (two letters
    or three digits) and the others."""
    parts = subtags.split("-") if subtags else []
    script = parts.pop(0) if parts and len(parts[0]) == 4 and parts[0].isalpha() else None
    region = parts.pop(0) if parts and _is_region(parts[0]) else None
    return script, region, parts


def _is_region(subtag: str) -> bool:
    return (len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit())


@cache
def completed_subtags(language: str) -> tuple[str | None, str | None]:
    """A (lowercased) tag's script and region, those it does not give filled in from CLDR's
    likely subtags (zh-tw: hant, tw; zh-hant: hant, tw; sr-me: latn, me)."""
    primary, _, subtags = language.partition("-")
    script, region, _others = _script_and_region(subtags)
    keys = [f"{primary}_{script}_{region}", f"{primary}_{region}", f"{primary}_{script}", primary]
    likely = next((found for key in keys if (found := _likely().get(key))), None)
    if likely is None:
        return script, region
    _language, likely_script, likely_region = likely.split("_")  # CLDR gives all three
    return script or likely_script, region or likely_region


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
    if "-" in tag and _is_charset(tag):  # euc-kr, tis-620, iso-8859-1: where the language belongs
        return None
    primary, _, rest = tag.partition("-")
    primary = primary.lower()
    if len(primary) == 3 or primary in ("iw", "in", "ji", "jw", "mo"):
        primary = _aliases().get(primary, primary)
    elif primary not in _language_codes():
        # A country where the language belongs (jp, cn, ua, gr, cz: feeds write them): the
        # language most of its people speak, as CLDR counts them.
        primary = _countries_language().get(primary, primary)
    # Microsoft's tags for the two Chinese scripts, in old Windows and .NET feeds.
    rest = re.sub(r"(?i)\bch([ts])\b", lambda found: "Hant" if found[1].lower() == "t" else "Hans", rest)
    if primary in MACROLANGUAGES:
        mapped = MACROLANGUAGES[primary]
        if mapped is None:
            return None
        primary = mapped
    return "-".join([primary, *map(_subtag_case, rest.split("-"))]) if rest else primary


def _is_charset(tag: str) -> bool:
    try:
        codecs.lookup(tag)
    except LookupError:
        return False
    return True


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


@cache
def _likely() -> dict[str, str]:
    """CLDR's likely subtags, lowercased: `zh_tw` -> `zh_hant_tw`, `zh_hant` -> `zh_hant_tw`."""
    from babel.core import get_global

    return {key.lower(): value.lower() for key, value in get_global("likely_subtags").items()}


@cache
def _language_codes() -> frozenset[str]:
    """The codes CLDR knows as languages (en, he, kr for Kanuri, se for Northern Sami)."""
    from babel import Locale

    return frozenset(str(code) for code in Locale("en").languages if "_" not in str(code))


@cache
def _countries_language() -> dict[str, str]:
    """Countries' two-letter codes -> the language most of their people speak (CLDR)."""
    from babel.core import get_global

    spoken: dict[str, str] = {}
    for country, languages in get_global("territory_languages").items():
        if len(country) == 2 and languages:
            most = max(languages.items(), key=lambda item: item[1].get("population_percent", 0))[0]
            spoken[country.lower()] = most.split("_")[0]
    return spoken
