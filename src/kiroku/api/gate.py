"""Everything kiroku does around a request, in one ASGI layer.

Around each request the server keeps metrics and writes an access record
(:mod:`kiroku.api.observe`), caps live streams and requests in flight per user,
and bounds how long a body may take (:mod:`kiroku.api.limits`). Each used to be
a middleware of its own: four layers, four ``await``\\ s and frames per request,
two of them reading the token from the headers. Under the posting load those
layers were ~17 % of the HTTP process's Python time (``benchmarks.http_load
--profile``), so one layer now does it all, in the order the four had:

1. the clock starts and the answer's status is watched (refusals included);
2. a live stream is counted against the server's and its user's cap, or refused
   with 503 or 429 and ``Retry-After``;
3. any other request is counted against its user's cap, or refused with 429;
4. a body, if the request has one, must arrive within the body timeout;
5. an error is answered by its handler (``handlers``, by exception class, as
   Starlette's exception handlers are), unless the answer has begun;
6. when the answer ends (a stream's too), the request is counted and logged.

With ``handlers`` the gate takes the place of Starlette's two error middleware
as well (:class:`kiroku.api.application.Application`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from kiroku.api.limits import PerUser, deadline_receive
from kiroku.api.observe import Metrics, Templates, access
from kiroku.api.problems import problem
from kiroku.api.server import ServerOptions

__all__ = ["Gate"]

Owner = Callable[[Scope], str | None]


class Gate:
    """ASGI middleware. ``is_stream(scope)`` picks the live streams; ``stream_owner`` and
    ``request_owner`` name the user a stream or another request authenticates as, None
    when it does not (the endpoint then answers 401 itself, and nothing is counted).
    ``handlers`` map exception classes to async handlers; without them errors pass."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        routes: Iterable[BaseRoute],
        is_stream: Callable[[Scope], bool],
        stream_owner: Owner,
        request_owner: Owner,
        options: ServerOptions,
        handlers: Mapping[Any, ExceptionHandler] | None = None,
    ) -> None:
        self.app = app
        self.handlers = dict(handlers or {})
        self.metrics = metrics
        self.templates = Templates(routes)
        self.is_stream = is_stream
        self.stream_owner = stream_owner
        self.request_owner = request_owner
        self.streams = PerUser(options.max_streams_per_user)
        self.requests = PerUser(options.max_requests_per_user)
        self.max_streams = options.max_streams
        self.open_streams = 0
        self.body_timeout = options.body_timeout
        self.retry_after = str(options.retry_after)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0  # until the answer starts

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            try:
                if self.is_stream(scope):
                    await self._stream(scope, receive, sending)
                else:
                    await self._request(scope, receive, sending)
            except Exception as exc:
                await self._answer(exc, bool(status), scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - start
            status = status or 500
            self.metrics.observe(scope["method"], self.templates.of(scope), status, elapsed)
            access(scope, status, elapsed)

    async def _answer(
        self, exc: Exception, started: bool, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """``exc``'s answer, by the handler of the nearest class in its MRO. An error with
        no handler, or raised once the answer has begun, is raised on to the server; so is
        a fault (the handler for ``Exception`` answered it), for the server's log."""
        cls = next((c for c in type(exc).__mro__ if c in self.handlers), None)
        if cls is None or started:
            raise exc
        response = await self.handlers[cls](Request(scope, receive), exc)
        if response is not None:
            await response(scope, receive, send)
        if cls is Exception:
            raise exc
        exc.__traceback__ = None  # an instance raised again would pile up tracebacks

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = self.stream_owner(scope)
        if user is not None and self.streams.full(user):
            detail = f"{user!r} has {self.streams.cap} live streams open, the most one user may"
            await self._refuse(429, detail, "too-many-streams", scope, receive, send)
            return
        if self.open_streams >= self.max_streams:
            detail = f"The server has {self.max_streams} live streams open, the most it serves"
            await self._refuse(503, detail, "streams-full", scope, receive, send)
            return
        self.open_streams += 1
        if user is not None:
            self.streams.take(user)
        try:
            await self.app(scope, receive, send)
        finally:
            self.open_streams -= 1
            if user is not None:
                self.streams.give(user)

    async def _request(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = self.request_owner(scope)
        receive = deadline_receive(scope, receive, self.body_timeout)
        if user is None:
            await self.app(scope, receive, send)
            return
        if self.requests.full(user):
            detail = f"{user!r} has {self.requests.cap} requests in flight, the most one user may"
            await self._refuse(429, detail, "too-many-requests", scope, receive, send)
            return
        self.requests.take(user)
        try:
            await self.app(scope, receive, send)
        finally:
            self.requests.give(user)

    async def _refuse(
        self, status: int, detail: str, kind: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        answer = problem(status, detail, kind=kind, headers={"Retry-After": self.retry_after})
        await answer(scope, receive, send)
