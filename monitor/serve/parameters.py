"""The checks of a request's query parameters: one a route does not take, or one of a single
value given twice, is a UsageError (a 400) saying so, never an answer that ignored it."""

from __future__ import annotations

from urllib.parse import unquote_plus

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.errors import UsageError
from monitor.serve.rendering import is_page
from monitor.serve.shapes import SearchParams

REPEATABLE = ("source", "rule")
SEARCH_PARAMETERS = frozenset(SearchParams.model_fields)  # the search checks them itself


async def parameters_checked(request: Request) -> None:
    """UsageError for a parameter the route does not take (?qq=dome answered every article,
    ?limt=1 every alert) or one of a single value given twice (one_value_each). One coroutine:
    each dependency costs FastAPI some 20 us to solve, and a plain function a trip to a thread."""
    given = request.query_params
    if not given:
        return
    known = _parameters_of(request.scope["route"])
    unknown = [name for name in given if name not in known]
    if unknown:
        takes = ", ".join(sorted(known - {"token"})) or "none"
        raise UsageError(f"unknown parameter {unknown[0]!r}: {request.url.path} takes {takes}")
    await one_value_each(request)


_KNOWN: dict[str, frozenset[str]] = {}  # by route (unique_id): what it takes never changes


def _parameters_of(route: APIRoute) -> frozenset[str]:
    """The query parameters a route takes: declared to FastAPI, or the search's; a token always."""
    known = _KNOWN.get(route.unique_id)
    if known is None:
        declared = SEARCH_PARAMETERS if route.path == "/api/v1/articles" else _query_names(route.dependant)
        known = _KNOWN[route.unique_id] = frozenset(declared) | {"token"}
    return known


def _query_names(dependant: Dependant) -> list[str]:
    """The query parameters of a route's function and of its dependencies."""
    names = [param.alias for param in dependant.query_params]
    return names + [name for inner in dependant.dependencies for name in _query_names(inner)]


async def one_value_each(request: Request) -> None:
    """UsageError for a parameter of one value given more than once (?lang=he&lang=en): which
    one was meant cannot be told, and taking the last would pass the others unread. The API's
    searches take several sources and rules; a page's form shows one of each."""
    given = request.query_params
    if len(given) == len(given.multi_items()):
        return  # each once: the common case, told without building the request's URL (10 us)
    repeatable = () if is_page(request.scope["path"]) else REPEATABLE
    for name in given:
        count = len(given.getlist(name))
        if count > 1 and name not in repeatable:
            either = " (for either language, q=lang:(en OR zh))" if name == "lang" else ""
            several = (
                " (the page takes one; the API, /api/v1/articles, several)" if name in REPEATABLE else ""
            )
            raise UsageError(f"{name} is given {count} times: give it once{either}{several}")


class EmptyParametersDropped:
    """A parameter left empty (`?state=`, `?limit=`, a bare `?state`) or blank (`?source=+`, a
    space typed into a form's field) is not given, on every route: the pages' forms send every
    field, the empty ones too, and an address taken from a page and asked of the API must answer
    the same (they were refused: `state` is not one of pending, held, ...; and a blank source
    was no source named ' ' where a blank language was none). Dropped from the query before
    FastAPI reads it; the rest as sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"")
        if query:
            parts = query.split(b"&")
            kept = [part for part in parts if not _blank(part.partition(b"=")[2])]
            if len(kept) < len(parts):
                scope = {**scope, "query_string": b"&".join(kept)}
        await self.app(scope, receive, send)


def _blank(value: bytes) -> bool:
    if not value:
        return True
    if b"+" not in value and b"%" not in value and not value.isspace():
        return False  # the common case, told without decoding
    return not unquote_plus(value.decode("latin-1")).strip()
