"""The live side of the chat: one publisher feeding every open stream, and access that follows.

(Over 300 lines on purpose: room streams, room lists and access checks share one
publisher task, its cursors and its kept lists; split, that state would be reached
into from three modules.)

Room streams. When ``chat.history`` commits a batch, the publisher reads each
touched room's new events *once*, encodes each frame *once*, and hands the same
:class:`~kiroku.api.fanout.Chunk` to every listener of that room. Per room it
keeps a cursor, the last version it published; a joining listener lowers it to
what that listener's access check saw, so a removal committed just after the
check is published to it, whatever order the read models caught up in.

Room lists (``/api/stream``). The frame is the caller's whole list, so the
publisher keeps each listening user's entries. When ``chat.rooms`` commits, it
reads each touched room and its members once, and for each member with an open
list stream (and anyone who had the room, so a removed member sees it go)
rebuilds only that room's entry: the shared summary plus the member's unread
count, one indexed count. The list is then re-ordered and encoded once per
user, shared by that user's streams, and sent only when it changed. Only the
publisher writes the entries, after the commits that marked the rooms, so they
never go back to an older read; a user's first change reads the whole list.

Access. A ``chat.MemberRemoved`` in a published chunk ends the removed member's
room stream right after that event, with ``event: end`` and
``{"reason": "member-removed"}``; nothing after it is queued. Each change of
the users file re-checks every stream's user: a removed user's streams end with
``token-revoked``, and all of them with ``user-store-unreadable`` when the file
cannot be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

import msgspec

from kiroku import JSON, BatchCommitted, ProjectionHost, id_of
from kiroku.api.auth import MAX_AGE
from kiroku.api.fanout import DEFAULT_MAX_PENDING, Chunk, Fanout, Listener, control_frame
from kiroku.api.pacing import Pacer
from kiroku.api.sse import format_event
from kiroku.api.user_store import UserStore
from kiroku.apps.chat.room_list import entry, ordered, rooms_of
from kiroku.projections import Document, ReadView

__all__ = ["HISTORY", "ROOMS", "LiveHub", "list_frame"]

log = logging.getLogger("kiroku.chat.live")

HISTORY = "chat.history"
"""The read model whose commits feed room streams (they read from it)."""
ROOMS = "chat.rooms"
"""The read model whose commits feed the callers' room-list streams."""
PAGE = 500
RETRY_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0

END_REMOVED = control_frame("end", "member-removed")
END_REVOKED = control_frame("end", "token-revoked")
END_UNREADABLE = control_frame("end", "user-store-unreadable")


def list_frame(position: int, data: bytes) -> bytes:
    return format_event(data.decode(), ident=str(position), event="rooms")


def _version(doc: Document) -> int:
    version = doc["version"]
    assert isinstance(version, int)
    return version


def _frame(doc: Document) -> bytes:
    data = msgspec.json.encode(doc).decode()
    return format_event(data, ident=str(_version(doc)), event=str(doc["type"]))


def _removals(docs: list[Document]) -> dict[str, int]:
    """Who left the room in these events, and at which version (the first time)."""
    found: dict[str, int] = {}
    for doc in docs:
        data = doc.get("data")
        if doc.get("type") == "chat.MemberRemoved" and isinstance(data, dict):
            found.setdefault(str(data.get("user")), _version(doc))
    return found


class LiveHub:
    """Every open stream of this read node, and the one task that publishes to them."""

    def __init__(
        self, host: ProjectionHost, users: UserStore, *, max_pending: int = DEFAULT_MAX_PENDING
    ) -> None:
        self.max_pending = max_pending
        """Bytes a stream may have queued before it is dropped with ``event: resume``."""
        self.rooms = Fanout()
        self.lists = Fanout()
        self._host, self._users = host, users
        self._cursors: dict[str, int] = {}
        self._dirty_rooms: dict[str, None] = {}
        self._dirty_lists: dict[str, None] = {}
        self._watching: dict[str, set[str]] = {}
        self._entries: dict[str, dict[str, JSON]] = {}  # listening user -> room id -> entry
        self._wake = asyncio.Event()
        self._pacer = Pacer()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = False

    @property
    def listeners(self) -> int:
        return len(self.rooms) + len(self.lists)

    @property
    def drops(self) -> int:
        return self.rooms.drops + self.lists.drops

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._publish_forever(), name="kiroku-live-publish"),
            asyncio.create_task(self._watch_users(), name="kiroku-live-users"),
            asyncio.create_task(self._beat_forever(), name="kiroku-live-heartbeat"),
        ]

    def close(self) -> None:
        """End every stream (they return after what they hold) and stop publishing; idempotent."""
        self.closed = True
        self.rooms.close()
        self.lists.close()
        for task in self._tasks:
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()

    async def wait_closed(self) -> None:
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def on_batch(self, note: BatchCommitted) -> None:
        """Mark the rooms this batch touched; the publisher reads them once for everyone."""
        if note.projection == HISTORY:
            for stream in note.streams:
                if id_of(stream) in self._cursors:
                    self._dirty_rooms[id_of(stream)] = None
        elif note.projection == ROOMS and len(self.lists):
            for stream in note.streams:
                self._dirty_lists[id_of(stream)] = None
        else:
            return
        self._wake.set()

    # -- joining ------------------------------------------------------------------

    async def join_room(self, listener: Listener, checked_at: int) -> None:
        """After ``listener``'s access check at version ``checked_at``: publish from there on."""
        listener.checked_at = checked_at
        newest = (
            await self._history()
            .collection("events")
            .query({"room_id": listener.key}, order_by="version", descending=True, limit=1)
        )
        floor = min(checked_at, _version(newest[0]) if newest else 0)
        self._cursors[listener.key] = min(self._cursors.get(listener.key, floor), floor)
        self._dirty_rooms[listener.key] = None
        self._wake.set()

    async def room_list(self, user: str) -> tuple[int, bytes]:
        """``user``'s room list now (JSON), with the ``chat.rooms`` position it reflects."""
        position = self._host.runners[ROOMS].position
        return position, msgspec.json.encode({"rooms": await self._read_list(user)})

    async def _read_list(self, user: str) -> list[JSON]:
        found = await rooms_of(self._host.reader(ROOMS), user)
        for room in found:
            if isinstance(room, dict):
                self._watching.setdefault(str(room.get("room_id")), set()).add(user)
        return found

    async def replay_room(self, listener: Listener, after: int) -> list[tuple[int, bytes]]:
        """A page of ``listener``'s room after ``after``, cut at the caller's own removal.

        A removal after the access check ends the stream here as it would in a
        published chunk: a long replay must not carry past it."""
        docs = await self._history().collection("events").query(
            {"room_id": listener.key}, filters=[("version", ">", after)], order_by="version",
            limit=PAGE,
        )  # fmt: skip
        frames = [(_version(doc), _frame(doc)) for doc in docs]
        at = None if listener.admin else _removals(docs).get(listener.user)
        if at is None or at <= listener.checked_at:
            return frames
        listener.end(END_REMOVED, keep_pending=False)  # what it holds is in this page
        return [(version, frame) for version, frame in frames if version <= at]

    # -- publishing ---------------------------------------------------------------

    def _history(self) -> ReadView:
        return self._host.reader(HISTORY)  # each time: a rebuild's swap is followed

    async def _publish_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._publish_once()
            except Exception:  # a read store gone or rebuilding: try again shortly
                log.exception("live publishing failed; retrying")
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()

    async def _publish_once(self) -> None:
        """Each marked room once; a room whose read fails stays marked (its cursor did not move).

        A room paced (see ``fanout.Pacer``) stays marked, and the publisher wakes when it is due."""
        marked, self._dirty_rooms = list(self._dirty_rooms), {}
        rooms = self._due(marked)
        for i, room_id in enumerate(rooms):
            try:
                await self._publish_room(room_id)
            except Exception:
                self._dirty_rooms.update(dict.fromkeys(rooms[i:]))
                raise
        lists, self._dirty_lists = list(self._dirty_lists), {}
        try:
            if lists:
                await self._publish_lists(lists)
        except Exception:
            self._dirty_lists.update(dict.fromkeys(lists))
            raise

    def _due(self, rooms: list[str]) -> list[str]:
        """The rooms that may be published now; the others stay marked, with a wake-up set."""
        loop = asyncio.get_running_loop()
        now, due, later = loop.time(), [], None
        for room_id in rooms:
            at = self._pacer.wait(room_id, now)
            if at is None:
                due.append(room_id)
                continue
            self._dirty_rooms[room_id] = None
            later = at if later is None else min(later, at)
        if later is not None and (self._timer is None or self._timer.when() > later):
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(later, self._due_now)
        return due

    def _due_now(self) -> None:
        self._timer = None
        self._wake.set()

    async def _publish_room(self, room_id: str) -> None:
        while True:
            listeners = self.rooms.at(room_id)
            cursor = self._cursors.get(room_id)
            if not listeners or cursor is None:
                self._cursors.pop(room_id, None)
                return
            docs = await self._history().collection("events").query(
                {"room_id": room_id}, filters=[("version", ">", cursor)], order_by="version",
                limit=PAGE,
            )  # fmt: skip
            if not docs:
                return
            chunk = Chunk.of([(_version(doc), _frame(doc)) for doc in docs])
            if self._cursors.get(room_id) == cursor:  # not lowered by a join meanwhile
                self._cursors[room_id] = chunk.last
            removed = _removals(docs)
            hand = functools.partial(self._hand, chunk=chunk, removed=removed)
            busy = await self.rooms.sweep(self.rooms.at(room_id), hand)
            self._pacer.done(room_id, busy, asyncio.get_running_loop().time())
            if len(docs) < PAGE:
                return

    def _hand(self, listener: Listener, chunk: Chunk, removed: dict[str, int]) -> None:
        at = None if listener.admin else removed.get(listener.user)
        if at is None or at <= listener.checked_at:
            self.rooms.deliver(listener, chunk)
            return
        self.rooms.deliver(listener, chunk.through(at))
        listener.end(END_REMOVED, keep_pending=True)

    async def _publish_lists(self, room_ids: list[str]) -> None:
        view, listening = self._host.reader(ROOMS), set(self.lists.keys())
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
            await self._send_list(user, position)

    async def _send_list(self, user: str, position: int) -> None:
        listeners = self.lists.at(user)
        if not listeners:
            self._entries.pop(user, None)
            return
        kept = self._entries.get(user)
        if kept is None:
            rooms = await self._read_list(user)
            self._entries[user] = {str(r["room_id"]): r for r in rooms if isinstance(r, dict)}
        else:
            rooms = ordered(kept.values())
        data = msgspec.json.encode({"rooms": rooms})
        chunk = Chunk.of([(position, list_frame(position, data))])
        for listener in listeners:
            if listener.memo != data:  # sent only when it changed
                listener.memo = data
                self.lists.deliver(listener, chunk)

    async def _beat_forever(self) -> None:
        """Keep-alive comments on quiet streams, so proxies keep them and gone clients show."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            self.rooms.beat()
            self.lists.beat()
            for user in [u for u in self._entries if not self.lists.at(u)]:
                del self._entries[user]  # streams closed since: no longer kept current

    # -- access -------------------------------------------------------------------

    async def _watch_users(self) -> None:
        seen = self._users.changes
        while True:
            await asyncio.sleep(MAX_AGE)
            try:
                self._users.refresh()
            except OSError:
                log.exception("the users file cannot be checked")
                continue
            if self._users.changes != seen:
                seen = self._users.changes
                self.recheck_users()

    def recheck_users(self) -> None:
        """End every stream whose user no longer holds a token, or all if nobody can be known."""
        unreadable = self._users.unreadable is not None
        if unreadable:
            log.error("users file unreadable: ending live streams: %s", self._users.unreadable)
        for fanout in (self.rooms, self.lists):
            for listener in fanout:
                if unreadable:
                    listener.end(END_UNREADABLE, keep_pending=False)
                elif not self._users.active(listener.user):
                    listener.end(END_REVOKED, keep_pending=False)
