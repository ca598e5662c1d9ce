"""The forms a term's words are found in, in running text: a Hebrew word with the prefixes
Hebrew writes onto it, an Arabic word with its proclitics and article, a Russian word declined
(inflections.py); the matcher, the automaton and both indexes take them from here."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from itertools import product
from math import prod

from monitor.rules.ast import Term
from monitor.rules.inflections import inflected_forms
from monitor.rules.text import fold_word, tokenize

# Hebrew writes and, the, in, as, to, from, that onto the next word (בכיפת ברזל), and often two
# or three at once (ובכיפת: and-in; שבכיפת: that-in; ושב...: and-that-in).
HEBREW_PREFIXES = (
    *"והבכלמש",
    *("ו" + letter for letter in "הבכלמש"),
    *("ש" + letter for letter in "הבכלמ"),
    *("וש" + letter for letter in "הבכלמ"),
    *("מה", "ומה", "כש", "וכש", "כשה", "וכשה"),
)
# Arabic writes and (و, ف), with/in (ب), as (ك), to/for (ل) and the article (ال) onto the next
# word: والقبة, بالقبة, وبالقبة; to-the is لل (للقبة), the article's alef dropped.
_ARABIC_ARTICLE = "ال"
_ARABIC_CONJUNCTIONS = ("", "و", "ف")
_ARABIC_PREPOSITIONS = ("", "ب", "ك")


def is_hebrew(token: str) -> bool:
    return bool(token) and "\u05d0" <= token[0] <= "\u05ea"


def is_arabic(token: str) -> bool:
    return bool(token) and "\u0621" <= token[0] <= "\u064a"


@lru_cache(maxsize=4096)
def first_word_forms(word: str) -> tuple[str, ...]:
    """The forms a term's first word is found in: itself, a Hebrew word with its prefixes, an
    Arabic word with its proclitics and article (a word given without the article is found
    with it too: صواريخ in الصواريخ, not the other way: القبة is the dome, not a dome)."""
    if is_hebrew(word):
        return (word, *(prefix + word for prefix in HEBREW_PREFIXES))
    if not is_arabic(word):
        return (word,)
    stem = word.removeprefix(_ARABIC_ARTICLE) if len(word) > len(_ARABIC_ARTICLE) + 1 else word
    if len(stem) < 3:  # حر with a proclitic is بحر (sea): two letters are too few to tell
        return (word,)
    definite = [_ARABIC_ARTICLE + stem, "ل" + _ARABIC_ARTICLE[1:] + stem]  # القبة, للقبة (to the dome)
    bare = [stem, "ل" + stem] if stem == word else []
    forms = [
        conjunction + preposition + form
        for form in (definite[0], *bare[:1])
        for conjunction in _ARABIC_CONJUNCTIONS
        for preposition in _ARABIC_PREPOSITIONS
    ]
    forms += [conjunction + form for form in (definite[1], *bare[1:]) for conjunction in _ARABIC_CONJUNCTIONS]
    return (word, *(form for form in dict.fromkeys(forms) if form != word))


MOST_TERM_FORMS = 64  # spellings of a term an index looks for as phrases; past it, its words


@lru_cache(maxsize=4096)
def position_forms(term: Term) -> tuple[tuple[str, ...], ...]:
    """The forms each word of a term is found in: the first with its Hebrew or Arabic
    prefixes, the next Arabic words with the article too (an adjective takes it with its noun:
    `قبة حديدية` is `القبة الحديدية` when definite), a Russian word declined (`купол`: `купола`,
    `куполом`, …); a prefix (`купол*`) is as written. A term holds where each of its words is
    in one of its forms."""
    last = len(term.tokens) - 1
    positions = []
    for place, (token, word) in enumerate(zip(term.tokens, _written_words(term), strict=True)):
        forms = first_word_forms(token) if place == 0 else _next_word_forms(token)
        if not (term.prefix and place == last):
            forms += tuple(fold_word(form) for form in inflected_forms(word)[1:])
        positions.append(tuple(dict.fromkeys(forms)))
    return tuple(positions)


def _next_word_forms(word: str) -> tuple[str, ...]:
    """A word after a term's first: itself, and an Arabic word of three letters or more given
    without the article also with it."""
    if not is_arabic(word) or word.startswith(_ARABIC_ARTICLE) or len(word) < 3:
        return (word,)
    return (word, _ARABIC_ARTICLE + word)


def _written_words(term: Term) -> list[str]:
    """The term's words as written, in lowercase and not folded (pymorphy reads the й and ё
    that folding takes away); its tokens where the two do not line up."""
    tokenized = tokenize(term.text)
    if tokenized.tokens != list(term.tokens):
        return list(term.tokens)
    spans = zip(tokenized.starts, tokenized.ends, strict=True)
    return [unicodedata.normalize("NFKC", term.text[start:end]).casefold() for start, end in spans]


def term_forms(term: Term) -> list[tuple[str, ...]]:
    """Every spelling of a term (each word in each of its forms): the phrases an index or the
    automaton looks for. Its length is the product of the words' numbers of forms."""
    return list(product(*position_forms(term)))


def forms_count(term: Term) -> int:
    """How many spellings term_forms() gives, without making them."""
    return prod(len(forms) for forms in position_forms(term))
