"""The live side of the chat: one publisher task feeding every open stream of a read node.

Room streams are here. When ``chat.history`` commits a batch, the publisher
reads each touched room's new events *once*, encodes each frame *once*, and
hands the same :class:`~kiroku.api.fanout.Chunk` to every listener of that
room. Per room it keeps a cursor, the last version it published; a joining
listener lowers it to what that listener's access check saw, so a removal
committed just after the check is published to it, whatever order the read
models caught up in.

The same task publishes the callers' room lists (``live_lists``) when
``chat.rooms`` commits, and cuts streams where their caller's access ends
(``live_access``). Those modules hold their own state; this one owns the task,
the marks that wake it, and the order of its work.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

import msgspec

from kiroku import BatchCommitted, ProjectionHost, id_of
from kiroku.api.fanout import DEFAULT_MAX_PENDING, Chunk, Fanout, Listener
from kiroku.api.pacing import Pacer
from kiroku.api.sse import format_event
from kiroku.api.user_store import UserStore
from kiroku.apps.chat import live_access
from kiroku.apps.chat.live_access import END_REMOVED, removals, removed_after_check, version_of
from kiroku.apps.chat.live_lists import ROOMS, RoomLists, list_frame
from kiroku.projections import Document, ReadView

__all__ = ["HISTORY", "ROOMS", "LiveHub", "list_frame"]

log = logging.getLogger("kiroku.chat.live")

HISTORY = "chat.history"
"""The read model whose commits feed room streams (they read from it)."""
PAGE = 500
RETRY_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0


def _frame(doc: Document) -> bytes:
    data = msgspec.json.encode(doc).decode()
    return format_event(data, ident=str(version_of(doc)), event=str(doc["type"]))


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
        self._lists = RoomLists(host, self.lists)
        self._cursors: dict[str, int] = {}
        self._dirty_rooms: dict[str, None] = {}
        self._dirty_lists: dict[str, None] = {}
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
            asyncio.create_task(
                live_access.watch_users(self._users, (self.rooms, self.lists)),
                name="kiroku-live-users",
            ),
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
        floor = min(checked_at, version_of(newest[0]) if newest else 0)
        self._cursors[listener.key] = min(self._cursors.get(listener.key, floor), floor)
        self._dirty_rooms[listener.key] = None
        self._wake.set()

    async def room_list(self, user: str) -> tuple[int, bytes]:
        """``user``'s room list now (JSON), with the ``chat.rooms`` position it reflects."""
        return await self._lists.snapshot(user)

    async def replay_room(self, listener: Listener, after: int) -> list[tuple[int, bytes]]:
        """A page of ``listener``'s room after ``after``, cut at the caller's own removal.

        A removal after the access check ends the stream here as it would in a
        published chunk: a long replay must not carry past it."""
        docs = await self._history().collection("events").query(
            {"room_id": listener.key}, filters=[("version", ">", after)], order_by="version",
            limit=PAGE,
        )  # fmt: skip
        frames = [(version_of(doc), _frame(doc)) for doc in docs]
        at = removed_after_check(listener, removals(docs))
        if at is None:
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
                await self._lists.publish(lists)
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
            chunk = Chunk.of([(version_of(doc), _frame(doc)) for doc in docs])
            if self._cursors.get(room_id) == cursor:  # not lowered by a join meanwhile
                self._cursors[room_id] = chunk.last
            removed = removals(docs)
            hand = functools.partial(self._hand, chunk=chunk, removed=removed)
            busy = await self.rooms.sweep(self.rooms.at(room_id), hand)
            self._pacer.done(room_id, busy, asyncio.get_running_loop().time())
            if len(docs) < PAGE:
                return

    def _hand(self, listener: Listener, chunk: Chunk, removed: dict[str, int]) -> None:
        at = removed_after_check(listener, removed)
        if at is None:
            self.rooms.deliver(listener, chunk)
            return
        self.rooms.deliver(listener, chunk.through(at))
        listener.end(END_REMOVED, keep_pending=True)

    async def _beat_forever(self) -> None:
        """Keep-alive comments on quiet streams, so proxies keep them and gone clients show."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            self.rooms.beat()
            self.lists.beat()
            self._lists.forget_closed()  # streams closed since: no longer kept current

    def recheck_users(self) -> None:
        """End every stream whose user no longer holds a token, or all if nobody can be known."""
        live_access.recheck_users(self._users, (self.rooms, self.lists))
