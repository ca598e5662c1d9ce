"""DTDs and entity declarations out of XML from the web, before any parser sees it: they are
how entity-expansion bombs work, and no feed or sitemap needs them."""

from __future__ import annotations

import re

_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY[^>]*>", re.IGNORECASE)


def strip_declarations(body: bytes) -> bytes:
    return _ENTITY_DECLARATION.sub(b"", _DOCTYPE.sub(b"", body, count=1))
