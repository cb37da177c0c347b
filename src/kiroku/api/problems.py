"""Errors as ``application/problem+json`` (RFC 9457), chosen by walking the class MRO.

One table maps kiroku's error tree to statuses; the most specific class in an
exception's MRO wins, so an application's ``RoomNotFoundError(NotFoundError,
DomainError)`` is a 404 without registering anything, and a new subclass of a
mapped error is right by default. Unmapped exceptions are bugs: a 500 whose body
says nothing about internals, with the traceback in the log.
"""

from __future__ import annotations

import logging
import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from kiroku.api.responses import Json
from kiroku.errors import (
    AuthenticationError,
    CommandError,
    ConcurrencyError,
    DomainError,
    IdempotencyKeyReusedError,
    InputError,
    JournalClosedError,
    KirokuError,
    NotAllowedError,
    NotFoundError,
    OutsideJournalError,
    OverloadedError,
    PayloadTooLargeError,
    ProjectionError,
    RetractionRefusedError,
    RetriesExhaustedError,
    RuntimeClosedError,
    StorageUnavailableError,
    UserStoreError,
    WaitTimeoutError,
)

__all__ = ["PROBLEM_JSON", "STATUS_BY_ERROR", "handle_error", "handle_http", "problem", "status_of"]

log = logging.getLogger("kiroku.api")

PROBLEM_JSON = "application/problem+json"

STATUS_BY_ERROR: dict[type[BaseException], int] = {
    KirokuError: 500,
    DomainError: 422,
    NotAllowedError: 403,
    AuthenticationError: 401,
    InputError: 400,
    IdempotencyKeyReusedError: 422,  # the IETF Idempotency-Key draft's status
    OutsideJournalError: 422,  # well formed; the journal's state refuses it
    PayloadTooLargeError: 413,
    NotFoundError: 404,
    ConcurrencyError: 409,
    CommandError: 500,
    RetriesExhaustedError: 409,
    RetractionRefusedError: 409,  # the journal's state forbids it, not the request's shape
    OverloadedError: 503,
    ProjectionError: 503,
    RuntimeClosedError: 503,
    JournalClosedError: 503,
    StorageUnavailableError: 503,  # disk full, I/O error: retry later
    WaitTimeoutError: 503,
    UserStoreError: 503,
}

_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
    413: "Content Too Large", 422: "Unprocessable Content", 429: "Too Many Requests",
    500: "Internal Server Error", 503: "Service Unavailable",
}  # fmt: skip


def status_of(error: BaseException) -> int:
    """The status of the most specific mapped class in ``error``'s MRO."""
    for cls in type(error).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return status
    return 500


def _slug(name: str) -> str:
    base = name.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", base).lower()


def problem(
    status: int, detail: str, *, kind: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """A problem document; ``kind`` becomes the ``type`` URI (``urn:kiroku:problem:<kind>``)."""
    body = {
        "type": f"urn:kiroku:problem:{kind}" if kind else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return Json(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def handle_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for everything: KirokuErrors by the table, the rest as 500."""
    status = status_of(exc) if isinstance(exc, KirokuError) else 500
    if status >= 500 and status != 503:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        # after a fault the connection's state is not to be trusted (a half-read body):
        # close it, and say so, so the client does not send its next request into it
        return problem(
            status,
            "The server failed to handle this request; see its log.",
            headers={"Connection": "close"},
        )
    headers = {"Retry-After": "1"} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="kiroku"'}
    return problem(status, str(exc), kind=_slug(type(exc).__name__), headers=headers)


async def handle_http(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (unknown path, wrong method) in the same shape."""
    if not isinstance(exc, HTTPException):
        return await handle_error(request, exc)
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:  # every method of every route on this path, not only one's
        headers["Allow"] = ", ".join(_allowed(request))
    return problem(exc.status_code, str(exc.detail), headers=headers or None)


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in getattr(request.app, "routes", ()):
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)
