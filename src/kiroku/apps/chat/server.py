"""The HTTP application: operations, the generic read API and the web UI for any
app, and the chat's Write API, Read API and live streams when the app is the chat.

``build_app(node)`` only wires routes to a ``ChatNode``; starting and stopping
the node is the lifespan's job, so tests and ``kiroku serve`` share one path.
Another app (``kiroku serve --app bank:app``) gets no chat route: its
projections' documents are read through ``/api/read/...`` instead.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from kiroku.api.application import Application
from kiroku.api.gate import Gate
from kiroku.api.limits import bearer_owner
from kiroku.api.observe import Gauge, Metrics
from kiroku.api.server import ServerOptions
from kiroku.apps.chat import (
    http_corrections,
    http_live,
    http_ops,
    http_ops_app,
    http_read,
    http_write,
)
from kiroku.apps.chat.http_common import is_stream, stream_owner
from kiroku.apps.chat.node import ChatNode
from kiroku.apps.chat.openapi import document
from kiroku.apps.chat.ops import LocalOperations
from kiroku.apps.chat.ops_record import TaskRecordFile
from kiroku.catalog import Catalog

__all__ = ["build_app"]

log = logging.getLogger("kiroku.chat")


def _web_routes() -> list[BaseRoute]:
    """The browser UI, when the ``kiroku.web`` package provides it."""
    try:
        web = importlib.import_module("kiroku.web")
    except ImportError:
        log.warning("kiroku.web is not available: serving the API without the web UI")
        return []
    routes: list[BaseRoute] = web.routes()
    return routes


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(document())


def _gauges(node: ChatNode, metrics: Metrics) -> None:
    hub, runtime = node.read.hub, node.write.runtime
    metrics.gauges.append(
        Gauge("kiroku_sse_listeners", "Open live streams.", lambda: [({}, hub.listeners)])
    )
    metrics.gauges.append(
        Gauge(
            "kiroku_sse_slow_consumer_drops",
            "Live streams dropped for falling behind (told to resume), since start.",
            lambda: [({"stream": "room"}, hub.rooms.drops), ({"stream": "list"}, hub.lists.drops)],
        )
    )
    metrics.gauges.append(
        Gauge("kiroku_live_aggregates", "Actors holding state.", lambda: [({}, runtime.live)])
    )
    metrics.gauges.append(
        Gauge(
            "kiroku_projection_position",
            "Last position each projection processed.",
            lambda: [({"projection": n}, r.position) for n, r in node.read.host.runners.items()],
        )
    )


def _gate(
    node: ChatNode, metrics: Metrics, routes: list[BaseRoute], options: ServerOptions
) -> Callable[..., Gate]:
    """Metrics, the access log, the stream and request caps and the body deadline."""
    return functools.partial(
        Gate, metrics=metrics, routes=routes, is_stream=is_stream,
        stream_owner=stream_owner(node), request_owner=bearer_owner(node.users.authenticate),
        options=options,
    )  # fmt: skip


def is_the_chat(node: ChatNode) -> bool:
    """Whether the node runs the reference chat (its rooms, streams and pages)."""
    from kiroku.apps.chat import app as chat_app  # the package imports this module's peers

    return node.app is chat_app


def build_app(
    node: ChatNode,
    *,
    start_node: bool = True,
    catalog: Catalog | None = None,
    limits: ServerOptions | None = None,
) -> Application:
    """The app over ``node``; ``catalog`` is the one start-up checked (else built here);
    ``limits`` caps the live streams (the defaults when None).

    With ``start_node`` this process runs the projections, so it keeps the
    operations tasks' record in the node's directory and takes up what was
    running; without, whoever starts the node decides (``RoleNode.take_operations``).
    """
    chat = is_the_chat(node)
    chat_routes = [*http_write.routes(), *http_read.routes(), *http_live.routes()] if chat else []
    routes: list[BaseRoute] = [
        *chat_routes,
        *http_ops_app.routes(with_me=not chat),
        *http_ops.routes(),
        *http_corrections.routes(),
        Route("/openapi.json", openapi, methods=["GET"]),
        *_web_routes(),
    ]
    metrics = Metrics()
    _gauges(node, metrics)
    ops = http_ops.OpsTasks()
    # set before the lifespan starts the node: notes left by a crash start at once
    node.read.host.on_rebuild_needed = http_ops.rebuild_when_needed(node.read.host, ops)
    operations = LocalOperations(node.read.host, ops)

    @contextlib.asynccontextmanager
    async def lifespan(app: Application) -> AsyncIterator[None]:
        if start_node:
            await node.start()
            await operations.resume(TaskRecordFile(node.data_dir))
        try:
            yield
        finally:
            await ops.close()
            if start_node:
                await node.close()

    gate = _gate(node, metrics, routes, limits or ServerOptions())
    app = Application(routes=routes, gate=gate, lifespan=lifespan)
    app.state.node = node
    app.state.chat = chat
    app.state.metrics = metrics
    app.state.ops = ops
    app.state.operations = operations  # a server may send them away
    app.state.catalog = catalog if catalog is not None else http_corrections.app_catalog(node.app)
    return app
