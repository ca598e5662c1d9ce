"""DTDs and entity declarations out of XML from the web, before any parser sees it: they are
how entity-expansion bombs work, and no feed or sitemap needs them."""

from __future__ import annotations

import re

_DOCTYPE_START = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY[^>]*>", re.IGNORECASE)


def strip_declarations(body: bytes) -> bytes:
    # The first DOCTYPE only, matched where it starts: searching for a whole one from every
    # "<!DOCTYPE[" of a hostile body rescans the rest each time (minutes for a megabyte).
    start = _DOCTYPE_START.search(body)
    doctype = _DOCTYPE.match(body, start.start()) if start else None
    if doctype:
        body = body[: doctype.start()] + body[doctype.end() :]
    return _ENTITY_DECLARATION.sub(b"", body)
