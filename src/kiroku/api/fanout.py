"""Fan-out: a batch is read and encoded once, and the same bytes go to every listener.

A live stream used to wake on every batch, query the read store and encode the
events itself, so a post cost one read and one encode per listener. Here the
publisher builds a :class:`Chunk` (the batch's frames for one key, already
encoded) once and hands it to each :class:`Listener`'s bounded queue; the
per-listener work is an access check, a queue append and a socket write.

When a stream is idle (its task is parked waiting for the next chunk, nothing
queued) and its connection can take bytes without waiting, the chunk is written
to the connection right away through the stream's *sink*, from the publisher's
loop: no wake-up, no task step and no trip through the ASGI middleware per
listener. Otherwise it is queued and the stream's task sends it, waiting for the
socket as flow control requires; a stream goes back to direct writes once its
queue is drained. Either way each listener gets the chunks in order, once.

A listener's queue is bounded in bytes. One that falls further behind than that
(a slow or stalled client) is ended with a ``resume`` frame rather than allowed
to hold memory or the publisher back: the client reconnects with
``Last-Event-ID`` and reads what it missed from the read model. Drops are
counted for ``/metrics``.

A big room's fan-out is written in slices of :data:`SLICE` listeners, yielding to
the event loop between them, so HTTP requests and the projections' commits are
not held for its whole length; and a :class:`~kiroku.api.pacing.Pacer` spaces a key's fan-outs by
the CPU time the last one took, so a busy server writes less often and more per
write (several posts in one write to each listener) instead of falling behind.

Ending is final: after :meth:`Listener.end` nothing more is queued, so a member
removed from a room receives the closing frame and nothing after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import msgspec

from kiroku.api.frames import format_event

__all__ = [
    "DEFAULT_MAX_PENDING", "SLICE", "Chunk", "Fanout", "Listener", "Sink",
    "control_frame",
]  # fmt: skip

DEFAULT_MAX_PENDING = 1 << 20
"""Bytes a listener may have queued before it is dropped as a slow consumer (1 MiB)."""
SLICE = 128
"""Listeners handed a chunk between two yields to the event loop."""


def control_frame(event: str, reason: str) -> bytes:
    """A frame without an id, so it never moves the client's ``Last-Event-ID``."""
    return format_event(msgspec.json.encode({"reason": reason}).decode(), event=event)


RESUME_SLOW = control_frame("resume", "slow-consumer")

Sink = Callable[[bytes], bool]
"""Writes body bytes to a stream's connection now, or returns False when it cannot
without waiting (its buffer is full, it is closing): the caller queues them instead."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Frames for one key, in order, each with its ordinal (a room version); shared, not copied."""

    frames: tuple[tuple[int, bytes], ...]
    data: bytes

    @classmethod
    def of(cls, frames: list[tuple[int, bytes]]) -> Chunk:
        return cls(tuple(frames), b"".join(f for _, f in frames))

    @property
    def first(self) -> int:
        return self.frames[0][0] if self.frames else 0

    @property
    def last(self) -> int:
        return self.frames[-1][0] if self.frames else 0

    def after(self, cursor: int) -> bytes:
        """The bytes of the frames past ``cursor``: all, unless the reader already has some."""
        if cursor < self.first:
            return self.data
        return b"".join(f for n, f in self.frames if n > cursor)

    def through(self, ordinal: int) -> Chunk:
        """Only the frames up to ``ordinal`` (what a member may see before their removal)."""
        return Chunk.of([(n, f) for n, f in self.frames if n <= ordinal])


class Listener:
    """One open stream: who it serves, and its bounded queue of shared chunks.

    ``checked_at`` is the ordinal at which access was last checked against the
    read model; removals at or before it were already seen by that check.
    ``cursor`` is the last ordinal sent to the client: a chunk's frames at or
    before it (already sent by the replay) are skipped.
    """

    __slots__ = (
        "_final",
        "_limit",
        "_pending",
        "_queue",
        "_quiet",
        "_waiter",
        "admin",
        "checked_at",
        "cursor",
        "key",
        "memo",
        "sink",
        "user",
    )

    def __init__(
        self, key: str, user: str, *, admin: bool = False, limit: int = DEFAULT_MAX_PENDING
    ) -> None:
        self.key, self.user, self.admin = key, user, admin
        self.checked_at = -1
        self.cursor = 0
        self.sink: Sink | None = None
        """Set by the stream once it sends live chunks; see the module's docstring."""
        self.memo = b""  # the last thing sent, for feeds that send only changes
        self._limit = limit
        self._pending = 0
        self._queue: list[Chunk] = []  # a list and a bare future: an idle listener is small
        self._waiter: asyncio.Future[None] | None = None
        self._final: bytes | None = None
        self._quiet = True  # nothing sent since the last heartbeat

    @property
    def ended(self) -> bool:
        return self._final is not None

    def offer(self, chunk: Chunk) -> bool:
        """Queue ``chunk``; False when that would pass the bound (the caller drops it)."""
        if self._final is not None:
            return True
        if self._idle() and self._write(chunk):
            return True
        if self._pending + len(chunk.data) > self._limit and self._queue:
            return False
        self._queue.append(chunk)
        self._pending += len(chunk.data)
        self._quiet = False
        self._wake()
        return True

    def _idle(self) -> bool:
        """The stream's task waits in :meth:`take` with nothing queued: not mid-send."""
        return self.sink is not None and self._waiter is not None and not self._waiter.done()

    def _write(self, chunk: Chunk) -> bool:
        assert self.sink is not None
        data = chunk.after(self.cursor)
        try:
            if data and not self.sink(data):
                return False
        except Exception:  # a connection in a state the sink did not expect: the task's way
            self.sink = None
            return False
        self.cursor = max(self.cursor, chunk.last)
        self._quiet = False
        return True

    def advance(self, chunks: list[Chunk]) -> bytes:
        """The bytes of ``chunks`` the client lacks; the cursor moves past them."""
        out = b"".join([chunk.after(self.cursor) for chunk in chunks])
        for chunk in chunks:
            self.cursor = max(self.cursor, chunk.last)
        return out

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def end(self, frame: bytes, *, keep_pending: bool) -> None:
        """Send ``frame`` last (after what is queued if ``keep_pending``); nothing after it."""
        if self._final is not None:
            return
        if not keep_pending:
            self._queue.clear()
            self._pending = 0
        self._final = frame
        self._wake()

    def beat(self) -> None:
        """A heartbeat: wake the stream for a keep-alive if nothing was sent since the last one.

        One task beats every listener (``Fanout.beat``) rather than each wait
        arming and cancelling its own timer: a wake-up costs a future, no timer."""
        if self._quiet:
            self._wake()
        self._quiet = True

    async def take(self) -> list[Chunk] | None:
        """What is queued, once there is something; None when woken by a heartbeat."""
        if not self._queue and self._final is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
            if not self._queue and self._final is None:
                return None
        taken, self._queue = self._queue, []
        self._pending = 0
        return taken

    def final(self) -> bytes | None:
        """The closing frame once the stream is ended and its queue drained."""
        return self._final if not self._queue else None


class Fanout:
    """Listeners by key (a room id, a user name), and the drops of slow consumers."""

    def __init__(self) -> None:
        self._keys: dict[str, set[Listener]] = {}
        self._count = 0
        self.drops = 0
        self.closed = False

    def __len__(self) -> int:
        return self._count

    def add(self, listener: Listener) -> None:
        if self.closed:
            listener.end(b"", keep_pending=False)
        found = self._keys.setdefault(listener.key, set())
        if listener not in found:
            found.add(listener)
            self._count += 1

    def discard(self, listener: Listener) -> None:
        found = self._keys.get(listener.key)
        if found is not None and listener in found:
            found.remove(listener)
            self._count -= 1
            if not found:
                del self._keys[listener.key]

    def beat(self) -> None:
        """Every listener that sent nothing since the last beat sends a keep-alive."""
        for listener in self:
            listener.beat()

    def keys(self) -> list[str]:
        return list(self._keys)

    def at(self, key: str) -> list[Listener]:
        return list(self._keys.get(key, ()))

    def __iter__(self) -> Iterator[Listener]:
        return iter([listener for found in self._keys.values() for listener in found])

    def deliver(self, listener: Listener, chunk: Chunk) -> None:
        """Queue ``chunk``, or drop the listener with a ``resume`` frame if it is too far behind."""
        if not listener.offer(chunk):
            self.drops += 1
            listener.end(RESUME_SLOW, keep_pending=False)

    @staticmethod
    async def sweep(listeners: Iterable[Listener], hand: Callable[[Listener], None]) -> float:
        """``hand`` each listener its chunk, :data:`SLICE` at a time, yielding in between;
        returns the CPU seconds spent handing.

        CPU time, not the time elapsed: neither what the loop runs in the yields
        nor the time the thread waits for a core on a busy machine is the
        fan-out's work. A listener that ends or leaves meanwhile is handed
        nothing more (an ended listener takes nothing), so the access check
        holds across the yields."""
        busy, began = 0.0, time.thread_time()
        for i, listener in enumerate(listeners, 1):
            hand(listener)
            if i % SLICE == 0:
                busy += time.thread_time() - began
                await asyncio.sleep(0)
                began = time.thread_time()
        return busy + time.thread_time() - began

    def close(self) -> None:
        """Server shutdown: streams end after what they hold (no frame: clients reconnect)."""
        self.closed = True
        for listener in self:
            listener.end(b"", keep_pending=True)
