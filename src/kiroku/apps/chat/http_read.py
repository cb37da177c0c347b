"""The Read API: answers from the read models, never from the write side.

Each endpoint names the read models it reads, so ``min_position`` waits for
exactly those. ``as_of`` (a position or an ISO time) rebuilds the room's read
models from its own events up to that point (see ``past``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from kiroku import NotFoundError, stream_name
from kiroku.api.params import fts_query
from kiroku.api.responses import Json
from kiroku.apps.chat.demo import demo_tokens
from kiroku.apps.chat.http_common import (
    caller,
    int_param,
    member_room,
    node_of,
    wait_for_reads,
)
from kiroku.apps.chat.past import resolve_as_of, room_as_of
from kiroku.apps.chat.room_list import rooms_of
from kiroku.apps.chat.rules import MessageNotFoundError, RoomNotFoundError
from kiroku.apps.chat.views import History, Rooms, Timeline, message_key
from kiroku.projections import Filter, Projection, ReadView

__all__ = ["routes"]

_PROJECTIONS: dict[str, type[Projection]] = {
    "chat.rooms": Rooms,
    "chat.timeline": Timeline,
    "chat.history": History,
}


@contextlib.asynccontextmanager
async def _view(request: Request, name: str, room_id: str) -> AsyncIterator[ReadView]:
    """The live read model, or the room's past one when ``as_of`` is given."""
    node = node_of(request)
    raw = request.query_params.get("as_of")
    if not raw:
        yield node.read.host.reader(name)
        return
    position = await resolve_as_of(node.read.journal, raw)
    stream = stream_name("room", room_id)
    projection = _PROJECTIONS[name]()
    async with room_as_of(projection, node.read.journal, node.read.codec, stream, position) as v:
        yield v


async def demo_users(request: Request) -> Json:
    """The demo users' tokens, only under ``kiroku serve --demo`` (so the page can offer them)."""
    if not getattr(request.app.state, "demo", False):
        raise NotFoundError("This server was not started with --demo")
    node = node_of(request)
    return Json({"users": demo_tokens(node.data_dir, node.users)})


async def me(request: Request) -> Json:
    who = caller(request)
    return Json({"name": who.name, "admin": who.admin})


async def list_rooms(request: Request) -> Json:
    who = caller(request)
    await wait_for_reads(request, ["chat.rooms"])
    found = await rooms_of(node_of(request).read.host.reader("chat.rooms"), who.name)
    return Json({"rooms": found})


async def room_details(request: Request) -> Json:
    who = caller(request)
    room_id = request.path_params["room_id"]
    await wait_for_reads(request, ["chat.rooms"])
    await member_room(request, who, room_id)
    async with _view(request, "chat.rooms", room_id) as view:
        room = await view.collection("rooms").get(room_id)
    if room is None:  # it did not exist yet at as_of
        raise RoomNotFoundError(room_id)
    keys = ("room_id", "name", "owner", "members", "archived", "version", "created_at")
    return Json({k: room.get(k) for k in keys})


async def _seq_of(view: ReadView, room_id: str, message_id: str) -> int:
    doc = await view.collection("messages").get(message_key(room_id, message_id))
    if doc is None:
        raise MessageNotFoundError(room_id, message_id)
    seq = doc["seq"]
    return seq if isinstance(seq, int) else 0


async def messages(request: Request) -> Json:
    who = caller(request)
    room_id = request.path_params["room_id"]
    limit = int_param(request, "limit", 50, low=1, high=500) or 50
    before, after = request.query_params.get("before"), request.query_params.get("after")
    await wait_for_reads(request, ["chat.rooms", "chat.timeline"])
    await member_room(request, who, room_id)
    async with _view(request, "chat.timeline", room_id) as view:
        filters: list[Filter] = []
        if before:
            filters.append(("seq", "<", await _seq_of(view, room_id, before)))
        if after:
            filters.append(("seq", ">", await _seq_of(view, room_id, after)))
        docs = await view.collection("messages").query(
            {"room_id": room_id}, filters=filters, order_by="seq", descending=not after,
            limit=limit,
        )  # fmt: skip
    if after:
        docs.reverse()  # the ``limit`` messages right after ``after`` (and before ``before``)
    keys = ("message_id", "author", "body", "posted_at", "edited_at", "deleted")
    return Json({"messages": [{k: d.get(k) for k in keys} for d in docs]})


async def history(request: Request) -> Json:
    who = caller(request)
    room_id = request.path_params["room_id"]
    after = int_param(request, "after", 0) or 0
    limit = int_param(request, "limit", 100, low=1, high=1000) or 100
    await wait_for_reads(request, ["chat.rooms", "chat.history"])
    await member_room(request, who, room_id)
    async with _view(request, "chat.history", room_id) as view:
        docs = await view.collection("events").query(
            {"room_id": room_id}, filters=[("version", ">", after)], order_by="version",
            limit=limit,
        )  # fmt: skip
    return Json({"events": docs})


async def search(request: Request) -> Json:
    who = caller(request)
    words = request.query_params.get("q", "")
    fts_query(words)  # refuses what no engine should be asked (empty, too long, controls)
    limit = int_param(request, "limit", 20, low=1, high=100) or 20
    await wait_for_reads(request, ["chat.rooms", "chat.search"])
    host = node_of(request).read.host
    mine = await host.reader("chat.rooms").collection("members").query({"user": who.name})
    rooms = [str(m["room_id"]) for m in mine]
    if not rooms:
        return Json({"results": []})
    found = (
        await host.reader("chat.search")
        .text_index("messages")
        .search(words, within={"room_id": rooms}, limit=limit)
    )
    keys = ("room_id", "message_id", "author", "posted_at")
    return Json({"results": [{**{k: f.get(k) for k in keys}, "body": f["text"]} for f in found]})


def routes() -> list[BaseRoute]:
    room = "/api/rooms/{room_id}"
    return [
        Route("/api/me", me, methods=["GET"]),
        Route("/api/demo", demo_users, methods=["GET"]),
        Route("/api/rooms", list_rooms, methods=["GET"]),
        Route(room, room_details, methods=["GET"]),
        Route(room + "/messages", messages, methods=["GET"]),
        Route(room + "/history", history, methods=["GET"]),
        Route("/api/search", search, methods=["GET"]),
    ]
