"""A user's room list as the page shows it: last message and unread count per room.

Shared by ``GET /api/rooms`` and the caller's live list stream (``live``), so both
say the same; it reads the ``chat.rooms`` read model only, never the HTTP layer.
The live stream keeps each listening user's entries and, when a room changes,
rebuilds only that room's entry (``entry``: the room read once for all its
members, one indexed count per member), then orders them as ``rooms_of`` does.
"""

from __future__ import annotations

from collections.abc import Iterable

from kiroku import JSON
from kiroku.projections import Document, ReadView

__all__ = ["entry", "ordered", "rooms_of"]


async def rooms_of(view: ReadView, user: str) -> list[JSON]:
    """``user``'s rooms with last message and unread count, most recent activity first."""
    rooms, members = view.collection("rooms"), view.collection("members")
    found: list[JSON] = []
    for membership in await members.query({"user": user}, order_by="room_id"):
        room = await rooms.get(str(membership["room_id"]))
        if room is not None:
            found.append(await entry(view, room, membership))
    return ordered(found)


async def entry(view: ReadView, room: Document, membership: Document) -> JSON:
    """One room as ``membership``'s user sees it: the room's summary and their unread count."""
    user = membership["user"]
    unread = await view.collection("msgs").count(
        {"room_id": room["room_id"], "deleted": False},
        filters=[("seq", ">", membership["read_seq"]), ("author", "!=", user)],
    )
    keys = ("room_id", "name", "owner", "archived", "version", "last_message")
    return {**{k: room.get(k) for k in keys}, "unread": unread}


def ordered(entries: Iterable[JSON]) -> list[JSON]:
    """Most recent activity first; rooms without activity, or tied, by room id."""
    found = sorted(entries, key=_room_id)
    found.sort(key=_activity, reverse=True)
    return found


def _room_id(summary: JSON) -> str:
    return str(summary.get("room_id")) if isinstance(summary, dict) else ""


def _activity(summary: JSON) -> str:
    last = summary.get("last_message") if isinstance(summary, dict) else None
    return str(last.get("posted_at", "")) if isinstance(last, dict) else ""
