from __future__ import annotations

from datetime import UTC, datetime

from monitor.models import Article, Hit

NOW = datetime(2026, 1, 6, 9, 30, tzinfo=UTC)


def make_article(
    key: str, title: str = "Iron Dome visit", text: str = "The Iron Dome was shown.", **changes: object
) -> Article:
    hit = Hit("Iron Dome", "Iron Dome", "text", 4, 13, text)
    fields: dict[str, object] = {
        "id": key,
        "url": f"https://news.test/{key}",
        "guid": key,
        "source": "Harbor Daily",
        "title": title,
        "teaser": "",
        "text": text,
        "summary": text,
        "published": NOW,
        "fetched": NOW,
        "language": "en",
        "story": key,
        "hits": (hit,),
    }
    fields.update(changes)
    return Article(**fields)  # type: ignore[arg-type]
