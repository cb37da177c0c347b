"""Read connections for the SQLite journal, off the event loop.

Reads run on a few threads of our own; each opens its own connection
(``query_only``, never the writer's), so a long ``read_all`` neither blocks
the loop nor waits behind a group commit: in WAL mode readers see the last
committed state while the writer works.

A follower at the head reads on the caller's thread instead (``run_now``, over
a connection of the pool's own): a read of the few events one wake-up brings
costs a fraction of a millisecond, less than the hop to a thread and back,
which under load waited for the GIL and for a core (p50 2, p90 30 ms).

The threads take reads from one queue and answer a loop future through
``call_soon_threadsafe``, as the writer does: a read per newly loaded
aggregate is on the write side's hot path, and ``run_in_executor`` costs
twice as much there (a concurrent future chained to an asyncio one, and a
lock and condition per call).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kiroku.errors import JournalClosedError
from kiroku.journal.sqlite.schema import convert_error

__all__ = ["ReaderPool"]

T = TypeVar("T")

_Read = tuple[Callable[[sqlite3.Connection], Any], str, "asyncio.Future[Any]"]
_STOP = None


class ReaderPool:
    def __init__(self, path: str, size: int, busy_timeout: float) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._queue: queue.SimpleQueue[_Read | None] = queue.SimpleQueue()
        self._closed = False
        self._now: sqlite3.Connection | None = None  # run_now's, on the loop's thread
        self._threads = [
            threading.Thread(target=self._serve, name=f"kiroku-sqlite-read-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, query: Callable[[sqlite3.Connection], T], doing: str) -> asyncio.Future[T]:
        """Run ``query`` on a reader thread's connection; sqlite3 errors become kiroku errors."""
        if self._closed:
            raise JournalClosedError()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((query, doing, future))
        return future

    def run_now(self, query: Callable[[sqlite3.Connection], T], doing: str) -> T:
        """Run ``query`` here, on the caller's thread: for short reads only (WAL: the
        writer never blocks it; a short busy timeout bounds the rare wait)."""
        if self._closed:
            raise JournalClosedError()
        try:
            if self._now is None:
                self._now = self._connect(timeout=min(self._busy_timeout, 1.0))
            return query(self._now)
        except sqlite3.Error as e:
            raise convert_error(e, doing) from e

    def _serve(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while (read := self._queue.get()) is not _STOP:
                query, doing, future = read
                if future.done():  # its caller was cancelled
                    continue
                try:
                    if conn is None:
                        conn = self._connect()
                    outcome, failed = query(conn), False
                except sqlite3.Error as e:
                    outcome, failed = convert_error(e, doing), True
                except BaseException as e:  # a bug in a query: its caller hears it
                    outcome, failed = e, True
                _answer(future, outcome, failed)
        finally:
            if conn is not None:
                conn.close()

    def _connect(self, timeout: float | None = None) -> sqlite3.Connection:
        timeout = self._busy_timeout if timeout is None else timeout
        conn = sqlite3.connect(
            self._path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA query_only = ON")
        return conn

    async def close(self) -> None:
        """Finish the reads already queued, then close every reader connection."""
        if self._closed:
            return
        self._closed = True
        if self._now is not None:
            self._now.close()
        for _ in self._threads:
            self._queue.put(_STOP)
        await asyncio.to_thread(_join, self._threads)


def _answer(future: asyncio.Future[Any], outcome: Any, failed: bool) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to answer
        future.get_loop().call_soon_threadsafe(_settle, future, outcome, failed)


def _settle(future: asyncio.Future[Any], outcome: Any, failed: bool) -> None:
    if future.done():
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join()
