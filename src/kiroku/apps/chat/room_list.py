"""A user's room list as the page shows it: last message and unread count per room.

Shared by ``GET /api/rooms`` and the caller's live list stream (``live``), so both
say the same; it reads the ``chat.rooms`` read model only, never the HTTP layer.
"""

from __future__ import annotations

from kiroku import JSON
from kiroku.projections import Document, ReadView

__all__ = ["rooms_of"]


async def rooms_of(view: ReadView, user: str) -> list[JSON]:
    """``user``'s rooms with last message and unread count, most recent activity first."""
    rooms, members = view.collection("rooms"), view.collection("members")
    found: list[JSON] = []
    for membership in await members.query({"user": user}, order_by="room_id"):
        room = await rooms.get(str(membership["room_id"]))
        if room is None:
            continue
        unread = await view.collection("msgs").count(
            {"room_id": room["room_id"], "deleted": False},
            filters=[("seq", ">", membership["read_seq"]), ("author", "!=", user)],
        )
        found.append(_room_summary(room, unread))
    found.sort(key=_activity, reverse=True)
    return found


def _room_summary(room: Document, unread: int) -> JSON:
    keys = ("room_id", "name", "owner", "archived", "version", "last_message")
    return {**{k: room.get(k) for k in keys}, "unread": unread}


def _activity(summary: JSON) -> str:
    last = summary.get("last_message") if isinstance(summary, dict) else None
    return str(last.get("posted_at", "")) if isinstance(last, dict) else ""
