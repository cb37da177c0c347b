"""What ``kiroku serve`` offers for any app, the chat or one's own.

``GET /api/app`` says which app is served (the page shows the chat only for the
chat); ``GET /api/read/{projection}`` lists a projection's collections and
``GET /api/read/{projection}/{collection}[/{id}]`` pages through its documents,
so a user's own read models are readable over HTTP without writing a Read API
first. Reads need a token (any user); the collections are whatever the
projection's handlers wrote with ``tx.collection(name)``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from kiroku import JSON, NotFoundError
from kiroku.apps.chat.http_common import caller, int_param, node_of

__all__ = ["routes"]

_DOC_PREFIX = "doc_"  # how the document store names a collection's table


def is_chat(request: Request) -> bool:
    chat: bool = getattr(request.app.state, "chat", False)
    return chat


async def about(request: Request) -> JSONResponse:
    app = node_of(request).app
    body: dict[str, JSON] = {
        "name": app.name,
        "chat": is_chat(request),
        "projections": [p.name for p in app.projections],
    }
    return JSONResponse(body)


async def me(request: Request) -> JSONResponse:
    who = caller(request)
    return JSONResponse({"name": who.name, "admin": who.admin})


async def collections(request: Request) -> JSONResponse:
    caller(request)
    name = request.path_params["projection"]
    view = node_of(request).read.host.reader(name)  # ProjectionNotFoundError -> 404
    rows = await view.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'doc\\_%' ESCAPE '\\'"
        " ORDER BY name"
    )
    found: list[JSON] = [str(r[0])[len(_DOC_PREFIX) :] for r in rows]
    return JSONResponse({"projection": name, "collections": found})


async def documents(request: Request) -> JSONResponse:
    """One page of a collection's documents in id order; ``next`` is the id to continue after."""
    caller(request)
    name, collection = request.path_params["projection"], request.path_params["collection"]
    limit = int_param(request, "limit", 50, low=1, high=500) or 50
    after = request.query_params.get("after", "")
    view = node_of(request).read.host.reader(name)
    docs = view.collection(collection)  # a bad name is an InputError -> 400
    ids = [i for i in await docs.ids() if i > after][: limit + 1]
    page: list[JSON] = []
    for ident in ids[:limit]:
        doc = await docs.get(ident)
        if doc is not None:
            page.append({"id": ident, "doc": dict(doc)})
    more = ids[limit - 1] if len(ids) > limit else None
    return JSONResponse({"documents": page, "next": more})


async def document(request: Request) -> JSONResponse:
    caller(request)
    name, collection = request.path_params["projection"], request.path_params["collection"]
    ident = request.path_params["id"]
    doc = await node_of(request).read.host.reader(name).collection(collection).get(ident)
    if doc is None:
        raise NotFoundError(f"No document {ident!r} in {name}/{collection}")
    return JSONResponse({"id": ident, "doc": dict(doc)})


def routes(*, with_me: bool) -> list[BaseRoute]:
    """The generic routes; ``with_me`` when the chat's own ``/api/me`` is not mounted."""
    read = "/api/read/{projection}"
    found: list[BaseRoute] = [
        Route("/api/app", about, methods=["GET"]),
        Route(read, collections, methods=["GET"]),
        Route(read + "/{collection}", documents, methods=["GET"]),
        Route(read + "/{collection}/{id}", document, methods=["GET"]),
    ]
    if with_me:
        found.append(Route("/api/me", me, methods=["GET"]))
    return found
