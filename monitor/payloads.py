"""The public JSON shapes of INTERFACE.md: an article, a webhook alert, a digest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.models import ArchivedArticle, Article, Hit


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
        # An item that gave no date is dated by its fetch: said here, not passed off as its own.
        "published_inferred": article.published == article.fetched,
        # When a new version (its feed entry changed) last replaced it: null if never. A client
        # keeping copies tells by it which to fetch again (`fetched` is the first arrival).
        "revised": iso(article.revised),
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


def sample_payloads(digest: bool = True) -> list[dict[str, Any]]:
    """An alert (and a digest) about a made-up article, to try message templates on."""
    when = datetime(2026, 1, 6, 9, 30, tzinfo=UTC)
    snippet = "…officials studied the Iron Dome system during the visit…"
    article = Article(
        id="sample",
        url="https://example.org/news/1",
        guid="https://example.org/news/1",
        source="Sample Source",
        title="Delegation studies the Iron Dome",
        teaser="A delegation visited the battery.",
        text="A delegation visited the battery; officials studied the Iron Dome system during the visit.",
        summary="Officials studied the Iron Dome system during the visit.",
        published=when,
        fetched=when,
        language="en",
        story="sample",
        hits=(Hit("Sample rule", "Iron Dome", "text", 55, 64, snippet),),
    )
    archived = ArchivedArticle(article, (("Other Source", "https://example.net/a"),))
    samples = [alert_json("sample", "sample", ["Sample rule"], archived)]
    return [*samples, digest_json("sample", "sample", [archived])] if digest else samples
