"""Live rooms: server-sent events pushed as the history read model commits.

``GET /api/stream`` is the caller's room list, live: each time the rooms read
model commits a batch, every such stream re-reads its caller's rooms (last
message, unread counts) and sends them when they changed. It sends whole
snapshots, not deltas, so there is nothing to resume: a reconnecting client gets
the current list at once. Waking every list stream per batch costs one read per
listener per batch; batches coalesce bursts, and a per-user key would need the
membership the read model holds, so this stays the simple, correct choice.

Room streams:

The stream sends each room event once, in stream order, with the stream version
as its SSE id. A reconnecting browser sends ``Last-Event-ID`` and resumes right
after it; a new one starts at ``?after=VERSION`` or, by default, at the room's
current version (only what happens from now on). Each event's data carries its
global ``position``, so a client can read with ``min_position`` and see it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kiroku import InputError
from kiroku.api.sse import SseItem, event_stream
from kiroku.apps.chat.http_common import caller, int_param, member_room, node_of
from kiroku.apps.chat.http_read import rooms_of
from kiroku.apps.chat.node import ROOM_LISTS
from kiroku.projections import ReadView

__all__ = ["routes"]

BATCH = 500


def _start(request: Request, current: int) -> int:
    last = request.headers.get("last-event-id")
    if last is not None:
        if not last.isdigit():
            raise InputError(f"Last-Event-ID must be a room version, got {last!r}")
        return int(last)
    after = int_param(request, "after")
    return current if after is None else after


def _reader(
    view: Callable[[], ReadView], room_id: str
) -> Callable[[int], Awaitable[list[tuple[int, SseItem]]]]:
    """Reads through ``view()`` each time, so a rebuild's swap is followed mid-stream."""

    async def read(cursor: int) -> list[tuple[int, SseItem]]:
        docs = await view().collection("events").query(
            {"room_id": room_id}, filters=[("version", ">", cursor)], order_by="version",
            limit=BATCH,
        )  # fmt: skip
        out: list[tuple[int, SseItem]] = []
        for doc in docs:
            version = doc["version"]
            assert isinstance(version, int)
            data = msgspec.json.encode(doc).decode()
            out.append((version, (str(version), str(doc["type"]), data)))
        return out

    return read


async def stream(request: Request) -> Response:
    who = caller(request, allow_query_token=True)
    room_id = request.path_params["room_id"]
    room = await member_room(request, who, room_id)
    version = room.get("version")
    cursor = _start(request, version if isinstance(version, int) else 0)
    read = node_of(request).read
    reader = _reader(lambda: read.host.reader("chat.history"), room_id)
    return event_stream(read.hub, room_id, cursor, reader)


def _room_list(
    view: Callable[[], ReadView], user: str
) -> Callable[[int], Awaitable[list[tuple[int, SseItem]]]]:
    """Reads ``user``'s rooms; yields a ``rooms`` event only when they changed."""
    last: list[str] = []

    async def read(cursor: int) -> list[tuple[int, SseItem]]:
        data = msgspec.json.encode({"rooms": await rooms_of(view(), user)}).decode()
        if last and last[0] == data:
            return []
        last[:] = [data]
        return [(cursor + 1, (str(cursor + 1), "rooms", data))]

    return read


async def my_rooms(request: Request) -> Response:
    """The caller's room list as it changes (see the module's docstring)."""
    who = caller(request, allow_query_token=True)
    read = node_of(request).read
    reader = _room_list(lambda: read.host.reader("chat.rooms"), who.name)
    return event_stream(read.hub, ROOM_LISTS, 0, reader)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/rooms/{room_id}/stream", stream, methods=["GET"]),
        Route("/api/stream", my_rooms, methods=["GET"]),
    ]
