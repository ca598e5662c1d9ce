"""The public JSON shapes of INTERFACE.md: an article, a webhook alert, a digest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.models import ArchivedArticle


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def article_json(archived: ArchivedArticle) -> dict[str, Any]:
    article = archived.article
    return {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "source": article.source,
        "published": iso(article.published),
        "fetched": iso(article.fetched),
        "language": article.language,
        "summary": article.summary,
        "rules": article.rules,
        "hits": [
            {"rule": hit.rule, "term": hit.term, "snippet": hit.snippet} for hit in article.hits if hit.term
        ],
        "story": article.story,
        "also_reported_by": [{"source": source, "url": url} for source, url in archived.also_reported_by],
    }


def alert_json(alert_id: str, alert: str, rules: list[str], archived: ArchivedArticle) -> dict[str, Any]:
    return {"alert_id": alert_id, "alert": alert, "rules": rules, "article": article_json(archived)}


def digest_json(alert_id: str, alert: str, articles: list[ArchivedArticle]) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "alert": alert,
        "digest": True,
        "articles": [article_json(archived) for archived in articles],
    }
