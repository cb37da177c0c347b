"""Wake-ups across processes: NOTIFY after each commit, LISTEN in every journal.

A NOTIFY is only a hint that something changed; readers always find out *what*
by reading. So a lost notification costs latency, never an event:

- the notifier sends ``pg_notify`` after the append transaction committed, on
  another connection, and debounced: commits that land while one notification
  is in flight are announced by the next single one;
- the listener, on every (re)connect, LISTENs first and only then wakes the
  readers, so an append between the two cannot go unnoticed;
- readers also wake on a slow timer (``poll_interval``), so a listener that is
  dead or blocked (pgbouncer in transaction mode forwards no notifications)
  delays them by at most that much.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from kiroku.domain.closing import cancelled

__all__ = ["Listener", "Notifier", "Wakeup"]

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]


class Wakeup:
    """A generation counter readers wait past; bumped by local commits and NOTIFY."""

    def __init__(self) -> None:
        self.generation = 0
        self.closed = False
        self._changed = asyncio.Event()

    def wake(self) -> None:
        self.generation += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self.wake()

    async def wait_past(self, generation: int, timeout: float) -> None:  # noqa: ASYNC109 - a poll interval, not a caller's deadline
        """Return when woken after ``generation``, or after ``timeout`` seconds."""
        if self.generation != generation or self.closed:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)


class Listener:
    """One LISTEN connection, reconnected with backoff for as long as the journal is open."""

    def __init__(self, connect: Connect, channel: str, wakeup: Wakeup) -> None:
        self._connect = connect
        self._channel = channel
        self._wakeup = wakeup
        self.connected = False
        self.reconnects = 0
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task = asyncio.create_task(self._run(), name="kiroku-pg-listener")

    @property
    def backend_pid(self) -> int | None:
        """The listening session's pid (operators and tests can see or end it)."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    async def _run(self) -> None:
        delay = 0.05
        while not self._wakeup.closed:
            try:
                self._conn = await self._connect()
                await self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                self.connected, delay = True, 0.05
                self._wakeup.wake()  # catch up on whatever was appended while not listening
                async for _ in self._conn.notifies():
                    self._wakeup.wake()
            except (psycopg.Error, OSError) as e:
                if self.connected:
                    log.warning("journal LISTEN connection lost (%s); reconnecting", e)
            self.connected = False
            self.reconnects += 1
            await self._close_conn()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    async def close(self) -> None:
        await cancelled(self._task)
        await self._close_conn()


class Notifier:
    """Sends one ``pg_notify`` per burst of commits, after they committed."""

    def __init__(self, connect: Connect, channel: str) -> None:
        self._connect = connect
        self._channel = channel
        self._head = 0
        self._sent = 0
        self._pending = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="kiroku-pg-notifier")

    def committed(self, head: int) -> None:
        self._head = max(self._head, head)
        self._pending.set()

    async def _run(self) -> None:
        conn: psycopg.AsyncConnection[Any] | None = None
        while True:
            await self._pending.wait()
            self._pending.clear()
            if self._head == self._sent:
                if self._closing:
                    break
                continue
            head = self._head
            try:
                if conn is None or conn.closed:
                    conn = await self._connect()
                await conn.execute("SELECT pg_notify(%s, %s)", (self._channel, str(head)))
                self._sent = head
            except (psycopg.Error, OSError) as e:  # readers still poll; the next commit retries
                log.debug("journal NOTIFY failed: %s", e)
                conn = None
            if self._closing:
                break
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    async def close(self) -> None:
        """Send what is pending, then stop."""
        self._closing = True
        self._pending.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 2.0)
        except TimeoutError:
            self._task.cancel()
