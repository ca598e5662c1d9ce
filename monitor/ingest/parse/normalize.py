"""Canonical URLs and stable article ids, so one story seen twice is stored once."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.models import LINKLESS_FRAGMENT, FeedEntry

_TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid",
        "mc_eid", "_ga", "_gl", "cmpid", "ocid", "ncid", "sr_share", "at_medium", "at_campaign",
        "spm", "ref_src", "ref", "ito", "s_cid",
        "taid", "smid", "mbid", "guccounter", "soc_src", "soc_trk", "__twitter_impression",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_", "at_", "oly_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking_parameter(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_PARAMETERS or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no tracking parameters, no fragment (but
    the one that names a feed entry without a link of its own). A URL that does not parse (a
    port past 65535, a broken IPv6 address: a feed's item may hold one) is kept as written, but
    for its fragment: its fetch is refused later, its text still matched."""
    try:
        parts = urlsplit(url.strip())
        given_port = parts.port
    except ValueError:
        return url.strip().split("#", 1)[0]
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = given_port if given_port and given_port != _DEFAULT_PORTS.get(scheme) else None
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc += f":{port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_parameter(key)
    ]
    fragment = parts.fragment if f"#{parts.fragment}".startswith(LINKLESS_FRAGMENT) else ""
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, doseq=True), fragment))


def article_id(url: str) -> str:
    """The id of the article at a canonical URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:20]


def entry_hash(entry: FeedEntry) -> str:
    """A hash of what the feed says of an entry: when it changes, the article was updated."""
    parts = (entry.title, entry.summary, entry.content)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]
