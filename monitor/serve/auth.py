"""Who may read: anyone on loopback when no token is configured (the config refuses an address
off loopback without one); otherwise only a client showing a configured token, as
`Authorization: Bearer TOKEN` or, for feed readers that cannot send headers and for a browser's
first page, `?token=TOKEN` (the pages then keep it in a cookie, web.py)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import quote, unquote

from fastapi import HTTPException, Request, status

from monitor.serve.rendering import is_page

COOKIE = "monitor_token"


def is_token(given: str, tokens: Sequence[str]) -> bool:
    """Whether `given` is one of the tokens, compared with every one in constant time (the
    answer's timing tells nothing)."""
    encoded = given.encode()
    return any([hmac.compare_digest(encoded, token.encode()) for token in tokens])


def cookie_value(token: str) -> str:
    """The token as the cookie carries it: percent-encoded, so that any token the config takes
    (`!`, `;`, `,`, `"`) is kept whole; letters, digits and `-._~` as they are."""
    return quote(token, safe="")


def token_check(tokens: Sequence[str]) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency refusing, with 401, a request without one of the tokens: in the
    Authorization header, the query (feed readers) or the cookie a page's ?token= left."""
    listed = list(tokens)

    # A coroutine though it awaits nothing: FastAPI runs a plain function dependency in its
    # thread pool, a hop that cost a tenth of a small search's answer.
    async def check(request: Request) -> None:
        if not listed or token_shown(request, listed) is not None:
            return
        said = "the token given is not one of serve.tokens" if _given(request) else "a token is required"
        how = (
            "open this page once as ?token=TOKEN (the browser keeps it)"
            if is_page(request.url.path)
            else "Authorization: Bearer TOKEN, or ?token=TOKEN"
        )
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"{said}: {how}", headers={"WWW-Authenticate": "Bearer"}
        )

    return check


def token_shown(request: Request, tokens: Sequence[str]) -> str | None:
    """The configured token the request shows (its Authorization header, its query or the
    cookie a page's ?token= left); None for none."""
    return next((each for each in _given(request) if is_token(each, tokens)), None)


def token_of_address(request: Request, tokens: Sequence[str]) -> str | None:
    """The configured token the request's user has in hand: its ?token= or the cookie it left;
    never one of an Authorization header, which a proxy may add for its users (who would read
    it in a page's links)."""
    return next((each for each in _given(request, bearer=False) if is_token(each, tokens)), None)


def _given(request: Request, bearer: bool = True) -> list[str]:
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    shown = [sent.strip()] if bearer and scheme.lower() == "bearer" else []
    shown += [request.query_params.get("token", ""), unquote(request.cookies.get(COOKIE, ""))]
    return [each for each in shown if each]
