"""Access on live streams: a stream ends, with ``event: end`` and why, when access does.

Two things end it. A ``chat.MemberRemoved`` of the stream's user, committed
after the stream's access check (``Listener.checked_at``), ends that room
stream right after the event (``member-removed``): the publisher and the replay
both cut there (``removed_after_check``), so nothing after the removal is
queued. And each change of the users file re-checks every stream's user
(``watch_users``): a removed user's streams end with ``token-revoked``, and all
of them with ``user-store-unreadable`` when the file cannot be read.

The publisher (``live``) calls into this module; nothing here knows it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from kiroku.api.auth import MAX_AGE
from kiroku.api.fanout import Fanout, Listener, control_frame
from kiroku.api.user_store import UserStore
from kiroku.projections import Document

__all__ = [
    "END_REMOVED",
    "END_REVOKED",
    "END_UNREADABLE",
    "recheck_users",
    "removals",
    "removed_after_check",
    "version_of",
    "watch_users",
]

log = logging.getLogger("kiroku.chat.live")

END_REMOVED = control_frame("end", "member-removed")
END_REVOKED = control_frame("end", "token-revoked")
END_UNREADABLE = control_frame("end", "user-store-unreadable")


def version_of(doc: Document) -> int:
    """A ``chat.history`` event's stream version (its SSE id)."""
    version = doc["version"]
    assert isinstance(version, int)
    return version


def removals(docs: list[Document]) -> dict[str, int]:
    """Who left the room in these events, and at which version (the first time)."""
    found: dict[str, int] = {}
    for doc in docs:
        data = doc.get("data")
        if doc.get("type") == "chat.MemberRemoved" and isinstance(data, dict):
            found.setdefault(str(data.get("user")), version_of(doc))
    return found


def removed_after_check(listener: Listener, removed: dict[str, int]) -> int | None:
    """The version at which ``listener``'s user was removed after its access check, if so.

    A removal at or before the check was already seen by it: the check would
    have refused the caller. An admin's stream never ends this way."""
    at = None if listener.admin else removed.get(listener.user)
    return None if at is None or at <= listener.checked_at else at


async def watch_users(users: UserStore, fanouts: Sequence[Fanout]) -> None:
    """Re-read the users file every ``MAX_AGE`` and re-check the streams when it changed."""
    seen = users.changes
    while True:
        await asyncio.sleep(MAX_AGE)
        try:
            users.refresh()
        except OSError:
            log.exception("the users file cannot be checked")
            continue
        if users.changes != seen:
            seen = users.changes
            recheck_users(users, fanouts)


def recheck_users(users: UserStore, fanouts: Sequence[Fanout]) -> None:
    """End every stream whose user no longer holds a token, or all if nobody can be known."""
    unreadable = users.unreadable is not None
    if unreadable:
        log.error("users file unreadable: ending live streams: %s", users.unreadable)
    for fanout in fanouts:
        for listener in fanout:
            if unreadable:
                listener.end(END_UNREADABLE, keep_pending=False)
            elif not users.active(listener.user):
                listener.end(END_REVOKED, keep_pending=False)
