"""Every refusal of the HTTP API has one body: ``{"error": {"field": ..., "message": ...}}``.

- bad input (:class:`~solvent.errors.SolventInputError`, a body or query that does not match the
  schema, malformed JSON): 422, naming the offending field as the CLI does
  (``orders[1].quantity``); nothing was changed;
- market data the service holds that is too old for the operation (:class:`StaleDataError` on
  ``market``): 503, the client cannot fix it;
- :class:`ApiError`: authentication (401), visibility (403), unknown account (404), body too large
  (413), rate limit (429), with the status it carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from solvent.errors import SolventInputError, StaleDataError, one_line


class ErrorDetail(BaseModel):
    """What was refused: the field (dotted path, ``[i]`` for list items) and why."""

    field: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(Exception):
    """A refusal with its HTTP status (and headers, e.g. ``Retry-After``)."""

    def __init__(
        self, status: int, field: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.status = status
        self.field = field
        self.message = message
        self.headers = headers or {}


def error_response(
    status: int, field: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON error response (see the module docstring)."""
    body = {"error": {"field": field, "message": one_line(message)}}
    return JSONResponse(body, status_code=status, headers=headers)


def field_path(loc: Sequence[str | int]) -> str:
    """A validation location (``("body", "orders", 0, "quantity")``) as the CLI names fields
    (``orders[0].quantity``); a query or path parameter keeps its name."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = list(exc.errors())
    if not errors:
        return error_response(422, "body", "invalid request")
    first = errors[0]
    field = field_path(first.get("loc", ()))
    message = str(first.get("msg", "invalid value"))
    if first.get("type") == "json_invalid":
        field, message = "body", f"malformed JSON: {first.get('ctx', {}).get('error', message)}"
    return error_response(422, field, message)


def _solvent(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SolventInputError)
    if isinstance(exc, StaleDataError) and exc.field == "market":
        return error_response(503, exc.field, exc.message)
    return error_response(422, exc.field, exc.message)


def _api(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.field, exc.message, exc.headers)


def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    field = "path" if exc.status_code in (404, 405) else "request"
    return error_response(exc.status_code, field, str(exc.detail), dict(exc.headers or {}))


async def refuse_unknown_query(request: HTTPConnection) -> None:
    """A query parameter the endpoint does not declare is bad input (422 naming it), not
    silently ignored: a misspelt ``?explian=true`` must not return an unexplained result.
    ``async``: checked on the event loop (a few dictionary look-ups), so no request pays a hop
    to the thread pool for it."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    allowed = _declared_query(dependant)
    for name in request.query_params:
        if name not in allowed:
            raise SolventInputError(name, "unknown query parameter")


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _declared_query(dependant: Any) -> frozenset[str]:
    """The query parameter names of an endpoint (its dependencies' included), once per route."""
    key = id(dependant)
    names = _QUERY_NAMES.get(key)
    if names is None:
        found: set[str] = set()
        pending = [dependant]
        while pending:
            node = pending.pop()
            found.update(p.alias for p in node.query_params)
            pending.extend(node.dependencies)
        names = _QUERY_NAMES[key] = frozenset(found)
    return names


def install_error_handlers(app: FastAPI) -> None:
    """Route every refusal through :func:`error_response`."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(SolventInputError, _solvent)
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(StarletteHTTPException, _http)


#: OpenAPI description of the error responses every authenticated endpoint may give.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No key, or an unknown key"},
    403: {"model": ErrorBody, "description": "The key does not see this account"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    422: {"model": ErrorBody, "description": "Bad input (the field is named); nothing changed"},
    429: {"model": ErrorBody, "description": "Rate limit of the key exceeded"},
}
