"""Plain-text renderings of alert payloads, for channels that carry prose (e-mail, Apprise)."""

from __future__ import annotations

from typing import Any


def subject(payload: dict[str, Any]) -> str:
    if payload.get("digest"):
        count = len(payload.get("articles", []))
        return f"[monitor] {payload['alert']}: {count} new {'story' if count == 1 else 'stories'}"
    article = payload["article"]
    return f"[monitor] {', '.join(payload['rules'])}: {article['title']}"


def _article_text(article: dict[str, Any]) -> str:
    lines = [article["title"], f"{article['source']} · {article['published']}", article["url"]]
    if article.get("summary"):
        lines += ["", article["summary"]]
    for hit in article.get("hits", [])[:5]:
        lines.append(f"  [{hit['rule']}] {hit['term']}: {hit['snippet']}")
    for copy in article.get("also_reported_by", []):
        lines.append(f"  also: {copy['source']} {copy['url']}")
    return "\n".join(lines)


def body(payload: dict[str, Any]) -> str:
    if payload.get("digest"):
        return "\n\n".join(_article_text(article) for article in payload.get("articles", []))
    return _article_text(payload["article"])


def one_line(text: str, limit: int = 200) -> str:
    """Header-safe: no CR/LF or other control characters, bounded length."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
