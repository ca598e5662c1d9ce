"""Summarizers: `extractive` (the default: no network, extractive_summary.py) and `openai` (any
OpenAI-compatible chat endpoint, e.g. a local model server), which asks the model why the
article matters for the rules it matched and falls back to the extractive summary on any
error, timeout or empty answer. Only matched articles go to the model: an unmatched one
needs no explanation and would only cost a call.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any, Protocol

import httpx

from monitor.ingest.summaries.extractive import summarize
from monitor.models import Hit

log = logging.getLogger(__name__)
MAX_PROMPT_CHARS = 6000
MAX_SUMMARY_CHARS = 1200
INSTRUCTIONS = (
    "You summarize news articles for analysts who follow security and foreign policy. "
    "In at most three sentences, in the article's own language, say what the article reports "
    "and how it bears on the watch rules it matched. Plain text, no preamble."
)


class Summarizer(Protocol):
    async def summarize(self, title: str, body: str, body_field: str, hits: list[Hit]) -> str: ...

    async def close(self) -> None: ...


class ExtractiveSummarizer:
    """The lead sentence and the sentences holding hits, within a length budget."""

    async def summarize(self, title: str, body: str, body_field: str, hits: list[Hit]) -> str:
        return await asyncio.to_thread(summarize, title, body, body_field, hits)  # off the event loop

    async def close(self) -> None:
        return None


class OpenAISummarizer:
    def __init__(self, base_url: str, model: str, api_key: str | None, timeout: timedelta) -> None:
        self.endpoint = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(timeout=timeout.total_seconds(), headers=headers)

    async def summarize(self, title: str, body: str, body_field: str, hits: list[Hit]) -> str:
        fallback = summarize(title, body, body_field, hits)
        if not hits:
            return fallback
        try:
            answer = await self._ask(_prompt(title, body, hits))
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
            log.warning("summarizer %s failed, kept the extractive summary: %s", self.endpoint, error)
            return fallback
        text = " ".join(answer.split())
        return text[:MAX_SUMMARY_CHARS] if text else fallback

    async def _ask(self, prompt: str) -> str:
        response = await self.client.post(
            self.endpoint,
            json={
                "model": self.model,
                "messages": [
                    {"role": "system", "content": INSTRUCTIONS},
                    {"role": "user", "content": prompt},
                ],
                "temperature": 0,
            },
        )
        response.raise_for_status()
        payload: Any = response.json()
        content = payload["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise ValueError("the answer holds no text")
        return content

    async def close(self) -> None:
        await self.client.aclose()


def _prompt(title: str, body: str, hits: list[Hit]) -> str:
    rules = sorted({hit.rule for hit in hits})
    lines = [f"Title: {title}", f"Watch rules matched: {', '.join(rules)}", "Matched passages:"]
    lines += [f"- [{hit.rule}] {hit.snippet}" for hit in hits[:8]]
    lines += ["", "Article:", body[:MAX_PROMPT_CHARS]]
    return "\n".join(lines)
