"""What the app answers for an error: JSON saying what is wrong to a program, a page to a
person's browser (rendering.is_page)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.errors import ArchiveError, QueryError, SearchTooSlow, UsageError
from monitor.serve.rendering import is_page, problem_page
from monitor.serve.searching import retry_after


def add_error_answers(app: FastAPI, token_check: Callable[[Request], Awaitable[None]]) -> None:
    """The answers to errors; `token_check` (auth.token_check) refuses an unknown address or
    method to a client without a token, as a known one is: which routes there are is no one
    else's business."""

    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code in (status.HTTP_404_NOT_FOUND, status.HTTP_405_METHOD_NOT_ALLOWED):
            try:  # a route's own 404 comes after its token check: this is the router's
                await token_check(request)
            except StarletteHTTPException as refused:
                error = refused
        return _http_error(request, error)

    app.exception_handler(QueryError)(_query_error)
    app.exception_handler(UsageError)(_usage_error)
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(SearchTooSlow)(_too_slow)
    app.exception_handler(ArchiveError)(_archive_error)
    app.exception_handler(RequestValidationError)(_invalid_parameter)


def _query_error(_request: Request, error: QueryError) -> JSONResponse:
    body = {"error": str(error), "query": error.query, "position": error.position, "pointer": error.pointer()}
    return JSONResponse(body, status.HTTP_400_BAD_REQUEST)


def _usage_error(request: Request, error: UsageError) -> Response:
    if is_page(request.url.path):  # a person's browser: a page saying so, not JSON
        return problem_page(status.HTTP_400_BAD_REQUEST, str(error))
    return JSONResponse({"error": str(error)}, status.HTTP_400_BAD_REQUEST)


def _http_error(request: Request, error: StarletteHTTPException) -> Response:
    headers = _allowing_head(error.headers)
    if is_page(request.url.path):  # a person's browser: a page saying so, not JSON
        return problem_page(error.status_code, str(error.detail), headers)
    return JSONResponse({"error": str(error.detail)}, error.status_code, headers=headers)


def _allowing_head(headers: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """A 405's Allow with HEAD wherever GET is: every GET route answers HEAD (web.Protections),
    though the routes declare GET alone."""
    allowed = (headers or {}).get("Allow", "").split(", ")
    if "GET" not in allowed or "HEAD" in allowed:
        return headers
    return {**(headers or {}), "Allow": ", ".join([*allowed, "HEAD"])}


def _too_slow(_request: Request, error: SearchTooSlow) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status.HTTP_503_SERVICE_UNAVAILABLE, retry_after(error))


def _archive_error(request: Request, error: ArchiveError) -> Response:
    if is_page(request.url.path):
        return problem_page(status.HTTP_503_SERVICE_UNAVAILABLE, str(error))
    return JSONResponse({"error": str(error)}, status.HTTP_503_SERVICE_UNAVAILABLE)


async def _invalid_parameter(request: Request, error: RequestValidationError) -> Response:
    """FastAPI's 422 for the API, as its document says, with the `error` every other refusal
    has, so that a client reads one key; a page saying which parameter is wrong for a person's
    browser (?matched=maybe)."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'][1:])}: {problem['msg']}"
        for problem in error.errors()
    )
    if not is_page(request.url.path):
        detail = jsonable_encoder(error.errors())
        return JSONResponse({"error": problems, "detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)
    return problem_page(status.HTTP_400_BAD_REQUEST, problems)
