"""Live rooms: server-sent events pushed as the read models commit.

Room streams (``GET /api/rooms/{room_id}/stream``) send each room event once, in
stream order, with the stream version as its SSE id. A reconnecting browser
sends ``Last-Event-ID`` and resumes right after it; a new one starts at
``?after=VERSION`` or, by default, at the room's current version (only what
happens from now on). Each event's data carries its global ``position``, so a
client can read with ``min_position`` and see it.

``GET /api/stream`` is the caller's room list, live: whole snapshots (last
message, unread counts), sent when the stream opens and again when the list
changed, so there is nothing to resume: a reconnecting client gets the current
list at once.

Both are fed by one publisher (``live.LiveHub``), which reads and encodes once
per batch for every listener, and both end, with a final ``end`` event saying
why, the moment the caller's access ends.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kiroku.api.auth import Principal
from kiroku.api.fanout import Fanout, Listener
from kiroku.api.sse import SseResponse, last_event_id
from kiroku.apps.chat.http_common import caller, int_param, member_room, node_of
from kiroku.apps.chat.live import list_frame
from kiroku.errors import AuthenticationError

__all__ = ["routes"]


def _listen(request: Request, fanout: Fanout, key: str, who: Principal) -> Listener:
    """Register before any check or read, so no removal or event slips in between."""
    limit = node_of(request).read.hub.max_pending
    listener = Listener(key, who.name, admin=who.admin, limit=limit)
    fanout.add(listener)
    if not node_of(request).users.active(who.name):  # removed just now: the watcher missed it
        fanout.discard(listener)
        raise AuthenticationError("The bearer token is not valid")
    return listener


async def stream(request: Request) -> Response:
    who = caller(request, allow_query_token=True)
    room_id = request.path_params["room_id"]
    last, after = last_event_id(request), int_param(request, "after")
    node = node_of(request)
    hub = node.read.hub
    listener = _listen(request, hub.rooms, room_id, who)
    try:
        room = await member_room(request, who, room_id)
        version = room.get("version")
        checked = version if isinstance(version, int) else 0
        await hub.join_room(listener, checked)
    except BaseException:
        hub.rooms.discard(listener)
        raise
    cursor = last if last is not None else checked if after is None else after

    async def replay(cursor: int) -> list[tuple[int, bytes]]:
        return await hub.replay_room(listener, cursor)

    return SseResponse(hub.rooms, listener, cursor, replay)


async def my_rooms(request: Request) -> Response:
    """The caller's room list as it changes (see the module's docstring)."""
    who = caller(request, allow_query_token=True)
    hub = node_of(request).read.hub
    listener = _listen(request, hub.lists, who.name, who)
    sent = False

    async def replay(cursor: int) -> list[tuple[int, bytes]]:
        nonlocal sent
        if sent:
            return []
        sent = True
        position, data = await hub.room_list(who.name)
        listener.memo = data
        return [(position, list_frame(position, data))]

    return SseResponse(hub.lists, listener, 0, replay)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/rooms/{room_id}/stream", stream, methods=["GET"]),
        Route("/api/stream", my_rooms, methods=["GET"]),
    ]
