"""Read-model commits pushed to read nodes through the PostgreSQL read store.

With read stores on PostgreSQL a read node may run on another machine, so the
Unix sockets of ``commits`` cannot reach it. The projector process sends
``NOTIFY kiroku_read_commits`` after its commits instead: debounced (a burst of
batches becomes one notification per projection, sent after the commits, never
inside them), and tiny (the projection and its new checkpoint). A read node
LISTENs; the store stays the source of truth: on a notification it reads which
streams moved since its own checkpoint from the store's per-stream versions,
so the note it hands its listeners is exact whatever was coalesced or lost.

NOTIFY is a wake-up, not a delivery: a listening connection that dies loses
what was sent meanwhile. So the read node also polls every checkpoint slowly
(and at once after reconnecting), which bounds the delay of a lost wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

import msgspec
import psycopg

from kiroku.domain.closing import cancelled
from kiroku.errors import ConfigError
from kiroku.projections import checkpoint
from kiroku.projections.host import ProjectionHost
from kiroku.projections.model import BatchCommitted

__all__ = ["CHANNEL", "PgCommitReceiver", "PgCommitSender", "note_since"]

log = logging.getLogger("kiroku.roles")
CHANNEL = "kiroku_read_commits"


class _Wake(msgspec.Struct, array_like=True):
    projection: str
    position: int


class PgCommitSender:
    """The projector's side: ``send`` is a host listener; a task sends the NOTIFYs."""

    def __init__(self, conninfo: str, *, debounce: float = 0.005) -> None:
        self._conninfo = conninfo
        self._debounce = debounce
        self._waiting: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="read-commit notifier")

    def send(self, note: BatchCommitted) -> None:
        known = self._waiting.get(note.projection, 0)
        self._waiting[note.projection] = max(known, note.last_position)
        self._wake.set()

    async def _run(self) -> None:
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                waiting, self._waiting = self._waiting, {}
                try:
                    if conn is None or conn.closed:
                        conn = await psycopg.AsyncConnection.connect(
                            self._conninfo, autocommit=True
                        )
                    for projection, position in waiting.items():
                        payload = msgspec.json.encode(_Wake(projection, position)).decode()
                        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                except (psycopg.Error, OSError) as e:  # read nodes' polls cover the loss
                    log.warning("read-commit notification not sent: %s", e)
                    if conn is not None:
                        await conn.close()
                    conn = None
                await asyncio.sleep(self._debounce)
        finally:
            if conn is not None:
                await conn.close()

    async def close(self) -> None:
        await cancelled(self._task)


def note_since(host: ProjectionHost, name: str) -> BatchCommitted | None:
    """What another process committed to ``name`` past this process's runner, read from
    the store (checkpoint and per-stream versions); None if nothing."""
    runner = host.runner(name)
    conn = runner.store.conn
    position, batch = checkpoint.load_checkpoint(conn)
    swapped = runner.store.location != host.stores.location(name, host.stores.generation(name))
    if position <= runner.position and not swapped:
        return None
    streams = tuple(checkpoint.streams_since(conn, runner.position + 1))
    applied = 0 if swapped else len(streams)  # 0: the follower looks at everything
    return BatchCommitted(name, batch, runner.position + 1, position, applied, streams)


def _poll_interval() -> float:
    """``KIROKU_READ_COMMIT_POLL`` seconds (default 2): how late a lost wake-up may be."""
    raw = os.environ.get("KIROKU_READ_COMMIT_POLL", "")
    try:
        return max(0.05, float(raw)) if raw else 2.0
    except ValueError as e:
        raise ConfigError(f"KIROKU_READ_COMMIT_POLL must be seconds, got {raw!r}") from e


class PgCommitReceiver:
    """A read node's side: ``on_note`` for each projection another process moved."""

    def __init__(
        self,
        conninfo: str,
        host: ProjectionHost,
        on_note: Callable[[BatchCommitted], None],
        *,
        poll_interval: float | None = None,
    ) -> None:
        self._conninfo = conninfo
        self._host = host
        self._on_note = on_note
        self._poll_interval = poll_interval or _poll_interval()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="read-commit listener"),
            asyncio.create_task(self._poll(), name="read-commit poll"),
        ]

    def _changed(self, name: str) -> None:
        if name not in self._host.projections:
            return
        try:
            note = note_since(self._host, name)
        except Exception as e:  # the store is down: the next wake-up or poll tries again
            log.warning("cannot follow %s's commits: %s", name, e)
            return
        if note is not None:
            self._on_note(note)

    def _check_all(self) -> None:
        for name in self._host.names:
            self._changed(name)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.1
                    self._check_all()  # what was sent while nobody listened
                    async for notify in conn.notifies():
                        try:
                            wake = msgspec.json.decode(notify.payload, type=_Wake)
                        except msgspec.DecodeError:
                            continue
                        self._changed(wake.projection)
            except (psycopg.Error, OSError) as e:
                log.warning("read-commit listener lost (%s): polling until it is back", e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            self._check_all()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
