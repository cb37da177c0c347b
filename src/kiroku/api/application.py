"""Starlette, with the gate as its whole middleware stack and its fixed paths indexed.

Starlette wraps every application in two middleware of its own:
``ServerErrorMiddleware`` outside the user's (it answers unhandled errors) and
``ExceptionMiddleware`` inside (it maps handled ones). Each is another layer,
another ``send`` wrapper and another ``Request`` per request, and the gate
(:class:`kiroku.api.gate.Gate`) already watches every answer: it maps errors
itself, so an :class:`Application` is the gate over the router and nothing else.

Starlette's router tries its routes in order, a regular expression each, until
one matches: ``GET /api/me`` matched ten before its own. :class:`IndexedRouter`
answers a request for a path without parameters from a dict; the dict is filled
by asking the routes in order, as the router would, which route takes each such
path and method, and filled again whenever the route list has changed, so both
always agree.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, ExceptionHandler, Lifespan, Receive, Scope, Send

from kiroku.api.problems import handle_error, handle_http
from kiroku.errors import KirokuError

__all__ = ["Application", "IndexedRouter"]

HANDLERS: dict[type[Exception], ExceptionHandler] = {
    HTTPException: handle_http,
    KirokuError: handle_error,
    Exception: handle_error,
}
"""The errors' answers unless told otherwise: problem documents (``kiroku.api.problems``)."""


class IndexedRouter(Router):
    """Starlette's router; a path without parameters is looked up, not matched."""

    def __init__(self, routes: Sequence[BaseRoute], *, lifespan: Lifespan[Any] | None) -> None:
        super().__init__(list(routes), lifespan=lifespan)
        self._indexed: list[BaseRoute] = []
        self._fixed: dict[tuple[str, str], Route] = {}

    @property
    def fixed(self) -> dict[tuple[str, str], Route]:
        """The index, of the routes as they are now: ``routes`` is a plain list that may be
        changed after start-up (a route put ahead of the app's own). Unchanged, it equals
        the copy indexed by identity alone, a comparison of pointers."""
        if self.routes != self._indexed:
            self._indexed = list(self.routes)
            self._fixed = _first_full_matches(self._indexed)
        return self._fixed

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("root_path"):
            await super().app(scope, receive, send)
            return
        route = self.fixed.get((scope["method"], scope["path"]))
        if route is None:
            await super().app(scope, receive, send)
            return
        scope.setdefault("router", self)
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = dict(scope.get("path_params", {}))
        await route.handle(scope, receive, send)


def _first_full_matches(routes: Sequence[BaseRoute]) -> dict[tuple[str, str], Route]:
    """For each path without parameters and each of its methods, the first route that
    fully matches it, found by the routes' own ``matches``; only plain routes are kept
    (a mount's app does its own routing)."""
    fixed: dict[tuple[str, str], Route] = {}
    for route in routes:
        if not isinstance(route, Route) or route.param_convertors or not route.methods:
            continue
        for method in route.methods:
            probe: Scope = {"type": "http", "path": route.path, "method": method}
            first = next(r for r in routes if r.matches(probe)[0] is Match.FULL)
            if isinstance(first, Route):
                fixed.setdefault((method, route.path), first)
    return fixed


class Application(Starlette):
    """A Starlette application whose middleware stack is ``gate(router, handlers=...)``.

    ``exception_handlers`` maps exception classes to async handlers, over
    :data:`HANDLERS`; the one for ``Exception`` answers faults, which are then raised
    on to the server, as Starlette does, for its log. No other middleware is taken:
    what runs around a request belongs in the gate."""

    def __init__(
        self,
        *,
        routes: Sequence[BaseRoute],
        gate: Callable[..., ASGIApp],
        exception_handlers: Mapping[type[Exception], ExceptionHandler] | None = None,
        lifespan: Lifespan[Any] | None = None,
    ) -> None:
        handlers = {**HANDLERS, **(exception_handlers or {})}
        for cls, handler in handlers.items():
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"the handler for {cls.__name__} must be an async function")
        super().__init__(exception_handlers=handlers, lifespan=lifespan)
        self.router = IndexedRouter(routes, lifespan=lifespan)
        self.gate = gate

    def build_middleware_stack(self) -> ASGIApp:
        return self.gate(self.router, handlers=self.exception_handlers)
