"""Read connections for the SQLite journal, off the event loop.

Reads run on a small thread pool; each thread opens its own connection
(``query_only``, never the writer's), so a long ``read_all`` neither blocks
the loop nor waits behind a group commit: in WAL mode readers see the last
committed state while the writer works.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from kiroku.errors import JournalClosedError
from kiroku.journal.sqlite.schema import convert_error

__all__ = ["ReaderPool"]

T = TypeVar("T")


class ReaderPool:
    def __init__(self, path: str, size: int, busy_timeout: float) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._closed = False
        self._executor = ThreadPoolExecutor(
            max_workers=size, thread_name_prefix="kiroku-sqlite-read"
        )

    async def run(self, query: Callable[[sqlite3.Connection], T], doing: str) -> T:
        """Run ``query`` on a reader thread's connection; sqlite3 errors become kiroku errors."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._call, query, doing)
        except RuntimeError as e:  # the executor was shut down under us
            raise JournalClosedError() from e

    def _call(self, query: Callable[[sqlite3.Connection], T], doing: str) -> T:
        try:
            return query(self._connection())
        except sqlite3.Error as e:
            raise convert_error(e, doing) from e

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,  # closed by close(), from another thread
            )
            conn.execute("PRAGMA query_only = ON")
            with self._lock:
                if self._closed:
                    conn.close()
                    raise JournalClosedError()
                self._conns.append(conn)
            self._local.conn = conn
        return conn

    async def close(self) -> None:
        """Wait for reads in flight, then close every reader connection."""
        await asyncio.to_thread(self._executor.shutdown, True)
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
