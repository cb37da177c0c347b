"""The server stack's ceiling for ``benchmarks.http_load``: what one request costs
with kiroku's HTTP stack and none of kiroku.

The same server (uvicorn on uvloop with kiroku's guarded httptools protocol,
Starlette) and what every kiroku request does before its real work: a bearer
token checked by SHA-256, a msgspec body, one pure-ASGI middleware, and as many
routes as kiroku has, the posting route first like kiroku's.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from kiroku.api.server import ServerOptions, guarded_protocol, run

__all__ = ["STACKS", "ceiling_app", "serve_ceiling"]

ROUTES = 40


class Body(msgspec.Struct):
    body: str


class Passing:
    """One middleware, as kiroku's observing one: wraps ``send``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def ceiling_app(token: str) -> Starlette:
    expected = hashlib.sha256(token.encode()).hexdigest()

    async def post(request: Request) -> Response:
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(hashlib.sha256(given.encode()).hexdigest(), expected):
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        body = msgspec.json.decode(await request.body(), type=Body)
        room = request.path_params["room_id"]
        return JSONResponse({"message_id": room, "position": len(body.body), "version": 1})

    async def other(request: Request) -> Response:
        return Response(status_code=204)

    routes = [Route("/api/rooms/{room_id}/messages", post, methods=["POST"])]
    routes += [Route(f"/api/other{i}/{{x}}", other, methods=["GET"]) for i in range(ROUTES - 2)]
    routes.append(Route("/healthz", other, methods=["GET"]))
    return Starlette(routes=routes, middleware=[Middleware(Passing)])


class _Announcing(uvicorn.Server):
    async def startup(self, sockets: object = None) -> None:
        await super().startup(sockets)  # type: ignore[arg-type]
        for server in self.servers:
            for sock in server.sockets:
                print(f"kiroku: listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)


STACKS = ("uvloop+httptools", "asyncio+httptools", "asyncio+h11")
"""The stacks ``--compare-stacks`` measures; the first is what ``kiroku serve`` runs."""


def serve_ceiling(token: str, stack: str = STACKS[0]) -> None:
    loop, http = stack.split("+")
    protocol: object = guarded_protocol(ServerOptions()) if http == "httptools" else http
    config = uvicorn.Config(
        ceiling_app(token), host="127.0.0.1", port=0, log_level="warning", access_log=False,
        http=protocol, lifespan="off",  # type: ignore[arg-type]  # a class or a name
    )  # fmt: skip
    serving = _Announcing(config).serve()
    if loop == "uvloop":
        run(serving)
    else:
        asyncio.run(serving)
