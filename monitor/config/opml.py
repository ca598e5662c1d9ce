"""OPML 2.0 subscription lists: read (nested outlines, as feed readers export them) and write.

Reading never resolves entities or reaches the network (an OPML file is someone else's XML).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from monitor.errors import OpmlError


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    url: str
    kind: str = "feed"  # feed | html | sitemap
    folder: str = ""  # the titles of the enclosing outlines, joined with " / "


def read_opml(data: bytes, where: str = "OPML") -> list[Subscription]:
    """Every outline with a feed URL (xmlUrl), or a link (url), at any depth."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise OpmlError(f"{where}: not well-formed XML: {error}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise OpmlError(f"{where}: not an OPML file (no <opml><body>)")
    found: list[Subscription] = []
    _walk(body, [], found)
    return found


def _walk(parent: etree._Element, folders: list[str], found: list[Subscription]) -> None:
    for outline in parent.iterfind("outline"):
        title = " ".join((outline.get("title") or outline.get("text") or "").split())  # one line
        feed = (outline.get("xmlUrl") or "").strip()
        link = (outline.get("url") or "").strip() if outline.get("type") == "link" else ""
        if feed or link:
            found.append(
                Subscription(
                    title or feed or link, feed or link, "feed" if feed else "html", " / ".join(folders)
                )
            )
        _walk(outline, [*folders, title] if title else folders, found)


def write_opml(subscriptions: list[Subscription], title: str, now: datetime | None = None) -> bytes:
    """OPML 2.0: feeds as type="rss" outlines, listing pages and sitemaps as type="link"."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC), usegmt=True)
    body = etree.SubElement(root, "body")
    folders: dict[str, etree._Element] = {}
    for item in subscriptions:
        parent = body
        if item.folder:
            parent = folders.get(item.folder) or etree.SubElement(body, "outline", text=item.folder)
            folders[item.folder] = parent
        if item.kind == "feed":
            etree.SubElement(parent, "outline", type="rss", text=item.name, title=item.name, xmlUrl=item.url)
        else:
            etree.SubElement(parent, "outline", type="link", text=item.name, url=item.url, category=item.kind)
    written: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return written
