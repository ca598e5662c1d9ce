"""Memory freed by large answers is given back once no request is in flight, and not before."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Receive, Scope, Send

from monitor.serve import memory
from monitor.serve.memory import FreedMemoryGivenBack


class _Answers:
    """An ASGI app answering `size` bytes, once `release` is set for /slow."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/slow":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * self.size})


async def _ask(app: FreedMemoryGivenBack, path: str) -> None:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(_: object) -> None:
        pass

    await app({"type": "http", "path": path}, receive, send)


async def _settled() -> None:
    for _ in range(20):  # the executor's thread, and the future it completes
        await asyncio.sleep(0.01)


def test_memory_is_given_back_when_the_last_large_answer_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[str] = []
    monkeypatch.setattr(memory, "release_free_memory", lambda: given.append("released"))

    async def scenario() -> None:
        answers = _Answers(size=600)
        app = FreedMemoryGivenBack(answers, after_bytes=1000)
        slow = asyncio.create_task(_ask(app, "/slow"))
        await asyncio.sleep(0)
        await _ask(app, "/quick")
        await _ask(app, "/quick")  # 1,200 bytes answered, but /slow is still in flight
        await _settled()
        assert given == []
        answers.release.set()
        await slow
        await _settled()
        assert given == ["released"]
        await _ask(app, "/quick")  # counted from the release: 600 bytes are not enough
        await _settled()
        assert given == ["released"]
        await _ask(app, "/quick")
        await _settled()
        assert given == ["released", "released"]

    asyncio.run(scenario())


def test_small_answers_give_nothing_back(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[str] = []
    monkeypatch.setattr(memory, "release_free_memory", lambda: given.append("released"))

    async def scenario() -> None:
        app = FreedMemoryGivenBack(_Answers(size=10), after_bytes=1000)
        for _ in range(50):
            await _ask(app, "/quick")
        await _settled()

    asyncio.run(scenario())
    assert given == []
