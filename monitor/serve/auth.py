"""Who may read: anyone on loopback when no token is configured (the config refuses an address
off loopback without one); otherwise only a client showing a configured token, as
`Authorization: Bearer TOKEN` or, for feed readers that cannot send headers, `?token=TOKEN`."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence

from fastapi import HTTPException, Request, status


def token_check(tokens: Sequence[str]) -> Callable[[Request], None]:
    """A FastAPI dependency refusing, with 401, a request without one of the tokens."""
    expected = [token.encode() for token in tokens]

    def check(request: Request) -> None:
        if not expected:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        shown = given.strip() if scheme.lower() == "bearer" else request.query_params.get("token", "")
        # Compared with every token in constant time: the answer's timing tells nothing.
        if not any([hmac.compare_digest(shown.encode(), token) for token in expected]):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check
