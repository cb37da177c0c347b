"""Room-list streams (``/api/stream``): each listening user's whole list, sent when it changed.

The frame is the caller's whole list, so this keeps each listening user's
entries. When ``chat.rooms`` commits, the publisher (``live``) hands over the
touched rooms; each is read once with its members, and for each member with an
open list stream (and anyone who had the room, so a removed member sees it go)
only that room's entry is rebuilt: the shared summary plus the member's unread
count, one indexed count. The list is then re-ordered and encoded once per
user, shared by that user's streams, and sent only when it changed. Only the
publisher calls ``publish``, after the commits that marked the rooms, so the
entries never go back to an older read; a user's first change reads the whole
list.
"""

from __future__ import annotations

import msgspec

from kiroku import JSON, ProjectionHost
from kiroku.api.fanout import Chunk, Fanout
from kiroku.api.sse import format_event
from kiroku.apps.chat.room_list import entry, ordered, rooms_of

__all__ = ["ROOMS", "RoomLists", "list_frame"]

ROOMS = "chat.rooms"
"""The read model whose commits feed the callers' room-list streams."""


def list_frame(position: int, data: bytes) -> bytes:
    return format_event(data.decode(), ident=str(position), event="rooms")


class RoomLists:
    """The room lists of the users listening on ``fanout``, kept current by ``publish``."""

    def __init__(self, host: ProjectionHost, fanout: Fanout) -> None:
        self.fanout = fanout
        self._host = host
        self._watching: dict[str, set[str]] = {}  # room id -> users whose list shows it
        self._entries: dict[str, dict[str, JSON]] = {}  # listening user -> room id -> entry

    async def snapshot(self, user: str) -> tuple[int, bytes]:
        """``user``'s room list now (JSON), with the ``chat.rooms`` position it reflects."""
        position = self._host.runners[ROOMS].position
        return position, msgspec.json.encode({"rooms": await self._read(user)})

    async def _read(self, user: str) -> list[JSON]:
        found = await rooms_of(self._host.reader(ROOMS), user)
        for room in found:
            if isinstance(room, dict):
                self._watching.setdefault(str(room.get("room_id")), set()).add(user)
        return found

    async def publish(self, room_ids: list[str]) -> None:
        """Rebuild the entries of these rooms for the users concerned, and send what changed."""
        view, listening = self._host.reader(ROOMS), set(self.fanout.keys())
        position = self._host.runners[ROOMS].position  # before the reads: they reflect it
        woken: set[str] = set()
        for room_id in room_ids:
            found = await view.collection("members").query({"room_id": room_id})
            members = {str(m["user"]): m for m in found}
            concerned = members.keys() | self._watching.get(room_id, set())
            self._watching[room_id] = set(members)
            users = concerned & listening
            for user in concerned - listening:  # not kept current while no stream is open
                self._entries.pop(user, None)
            room = await view.collection("rooms").get(room_id) if users else None
            for user in users:
                woken.add(user)
                kept, membership = self._entries.get(user), members.get(user)
                if kept is None:
                    continue  # read whole below
                if room is None or membership is None:
                    kept.pop(room_id, None)
                else:
                    kept[room_id] = await entry(view, room, membership)
        for user in woken:
            await self._send(user, position)

    async def _send(self, user: str, position: int) -> None:
        listeners = self.fanout.at(user)
        if not listeners:
            self._entries.pop(user, None)
            return
        kept = self._entries.get(user)
        if kept is None:
            rooms = await self._read(user)
            self._entries[user] = {str(r["room_id"]): r for r in rooms if isinstance(r, dict)}
        else:
            rooms = ordered(kept.values())
        data = msgspec.json.encode({"rooms": rooms})
        chunk = Chunk.of([(position, list_frame(position, data))])
        for listener in listeners:
            if listener.memo != data:  # sent only when it changed
                listener.memo = data
                self.fanout.deliver(listener, chunk)

    def forget_closed(self) -> None:
        """Stop keeping the lists of users whose streams all closed (the next one reads whole)."""
        for user in [u for u in self._entries if not self.fanout.at(u)]:
            del self._entries[user]
