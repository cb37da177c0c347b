"""JSON answers encoded by msgspec, and endpoints Starlette calls as plain ASGI.

Starlette's ``JSONResponse`` runs ``json.dumps``; msgspec encodes the same
compact UTF-8 several times faster, and the hot routes answer every request
with one. :class:`Endpoint` is for routes taken thousands of times a second:
Starlette wraps a plain function endpoint in a per-route exception wrapper that
repeats what the application's own exception middleware does anyway (the same
handlers, so errors still become the same problem documents); an ASGI endpoint
skips that layer and its extra ``send`` wrapper.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

__all__ = ["Endpoint", "Json"]

_encode = msgspec.json.Encoder().encode


class Json(JSONResponse):
    """A ``JSONResponse`` encoded by msgspec (non-ASCII kept as UTF-8, like Starlette's)."""

    def render(self, content: object) -> bytes:
        return _encode(content)


class Endpoint:
    """``handler`` as an ASGI app; Starlette routes to it without its per-route wrapper."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler
        self.__name__ = handler.__name__
        self.__doc__ = handler.__doc__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)
