"""The SQLite journal's single writer thread and its group commit.

One thread owns the only write connection. Callers on the event loop put jobs
on a queue and await a future. The thread takes *everything* queued (up to
``max_batch``) and runs it in one ``BEGIN IMMEDIATE`` transaction: each job in
its own SAVEPOINT, so a job that fails (a stale expected version, a duplicate
event id) is rolled back alone while its neighbours commit. One COMMIT, one
fsync for the lot. Appends that arrive while that fsync is in progress simply
wait in the queue and form the next batch — the busier the journal, the more
appends share a commit, with no timer and no added latency when it is idle.

Appends queued next to each other, most of a busy journal's work, run
together: one SAVEPOINT, one query for all their streams' versions, one
``executemany`` for all their events, one for the streams' new versions. A
stale expected version rejects its append before anything is written. If a
row breaks a constraint (a duplicate event id), the lot is rolled back and run
again one savepoint per append, so only the offender fails.

Futures are answered from the loop (``call_soon_threadsafe``) and only after
COMMIT returned, so an acknowledged append is on disk.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import TypeVar

from kiroku.errors import JournalClosedError, JournalError
from kiroku.journal.sqlite.jobs import (
    AppendMany,
    AppendRequest,
    Explain,
    Job,
    Tx,
    rollback,
    run_alone,
    run_one,
    run_together,
)
from kiroku.journal.sqlite.schema import SCHEMA, SCHEMA_VERSION, convert_error

__all__ = ["AppendRequest", "Tx", "Writer", "WriterStats"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of the writer since open; ``appends / commits`` is the group-commit gain."""

    commits: int
    appends: int
    events: int
    rejected: int
    largest_batch: int


_STOP = object()
_HEAD_SQL = "SELECT seq FROM sqlite_sequence WHERE name = 'events'"


class Writer:
    def __init__(
        self,
        path: str,
        loop: asyncio.AbstractEventLoop,
        on_commit: Callable[[int], None],
        append_many: AppendMany,
        *,
        max_batch: int,
        busy_timeout: float,
    ) -> None:
        self._path = path
        self._loop = loop
        self._on_commit = on_commit
        self._append_many = append_many
        self._max_batch = max_batch
        self._busy_timeout = busy_timeout
        self._queue: queue.SimpleQueue[Job[object] | object] = queue.SimpleQueue()
        self._ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._main, name="kiroku-sqlite-writer", daemon=True)
        self._commits = self._appends = self._events = self._rejected = self._largest = 0

    @property
    def stats(self) -> WriterStats:
        return WriterStats(
            self._commits, self._appends, self._events, self._rejected, self._largest
        )

    async def start(self) -> int:
        """Open the connection, create the schema; return the head position."""
        self._thread.start()
        return await asyncio.wrap_future(self._ready)

    def submit(
        self,
        run: Callable[[Tx], T],
        *,
        events: int = 0,
        explain: Explain | None = None,
        append: AppendRequest | None = None,
    ) -> asyncio.Future[T]:
        """Queue a write. ``run`` is the job on its own; an ``append`` job also
        gives its request, so it can run together with the appends next to it."""
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(Job(run, future, events, explain, append))
        return future

    async def stop(self) -> None:
        """Finish every job already queued, then close the connection."""
        self._queue.put(_STOP)
        await asyncio.wrap_future(self._done)

    # -- the thread ------------------------------------------------------------

    def _main(self) -> None:
        try:
            conn, head = _connect(self._path, self._busy_timeout)
        except BaseException as e:
            self._ready.set_exception(e)
            self._done.set_result(None)
            return
        self._ready.set_result(head)
        try:
            self._serve(conn)
        finally:
            conn.close()
            self._fail_leftovers()
            self._done.set_result(None)

    def _serve(self, conn: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._take()
            if batch:
                self._commit(conn, batch)

    def _take(self) -> tuple[list[Job[object]], bool]:
        """Block for one job, then drain whatever else is already queued."""
        jobs = self._queue
        item = jobs.get()
        batch: list[Job[object]] = []
        while item is not _STOP:
            assert isinstance(item, Job)
            batch.append(item)
            if len(batch) >= self._max_batch or jobs.empty():  # this thread alone takes
                return batch, False
            item = jobs.get_nowait()
        return batch, True

    def _commit(self, conn: sqlite3.Connection, batch: list[Job[object]]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            tx = Tx(conn)
            alone = len(batch) == 1
            outcomes = [run_alone(tx, batch[0])] if alone else self._run_all(tx, batch)
            if conn.in_transaction:  # not if a lone job was rejected and rolled back
                conn.execute("COMMIT")
        except Exception as e:  # the transaction is in doubt: every job in it fails
            rollback(conn)
            doing = f"committing a batch of {len(batch)} writes"
            self._answer(batch, [_batch_error(e, doing) for _ in batch], None)
            return
        self._count(batch, outcomes)
        self._answer(batch, outcomes, tx.known_head)

    def _run_all(self, tx: Tx, batch: list[Job[object]]) -> list[object]:
        """Every job's outcome, in order; neighbouring appends run together."""
        outcomes: list[object] = []
        for appends, group in groupby(batch, lambda job: job.append is not None):
            jobs = list(group)
            if appends and len(jobs) > 1:
                outcomes += run_together(tx, jobs, self._append_many)
            else:
                outcomes += [run_one(tx, job) for job in jobs]
        return outcomes

    def _count(self, batch: list[Job[object]], outcomes: list[object]) -> None:
        self._commits += 1
        if len(batch) > self._largest:
            self._largest = len(batch)
        for job, out in zip(batch, outcomes, strict=True):
            if isinstance(out, BaseException):
                self._rejected += 1
            elif job.events:
                self._appends += 1
                self._events += job.events

    def _answer(self, batch: list[Job[object]], outcomes: list[object], head: int | None) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to answer
            self._loop.call_soon_threadsafe(self._settle, batch, outcomes, head)

    def _settle(self, batch: list[Job[object]], outcomes: list[object], head: int | None) -> None:
        if head is not None:
            self._on_commit(head)
        for job, out in zip(batch, outcomes, strict=True):
            if job.future.done():  # the caller was cancelled; the write stands regardless
                continue
            if isinstance(out, BaseException):
                job.future.set_exception(out)
            else:
                job.future.set_result(out)

    def _fail_leftovers(self) -> None:
        leftovers: list[Job[object]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Job):
                leftovers.append(item)
        if leftovers:
            self._answer(leftovers, [JournalClosedError() for _ in leftovers], None)


def _batch_error(e: Exception, doing: str) -> Exception:
    if isinstance(e, sqlite3.Error):
        return convert_error(e, doing)
    error = JournalError(f"{doing} failed: {type(e).__name__}: {e}")
    error.__cause__ = e
    return error


def _connect(path: str, busy_timeout: float) -> tuple[sqlite3.Connection, int]:
    """Open the write connection: WAL, fsync on every commit, schema in place."""
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    except sqlite3.Error as e:
        raise convert_error(e, f"opening the journal {path}") from e
    try:
        _prepare(conn, path, time.monotonic() + busy_timeout)
        row = conn.execute(_HEAD_SQL).fetchone()
    except BaseException:
        conn.close()
        raise
    return conn, row[0] if row else 0


def _prepare(conn: sqlite3.Connection, path: str, deadline: float) -> None:
    """WAL, FULL and the schema. Processes starting together on a new file race to
    switch it to WAL and create the schema; SQLite answers some of those races with
    SQLITE_BUSY at once, without its busy handler, so they are retried until
    ``deadline`` (start-up only: nothing here runs per append)."""
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = FULL")
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            if found < SCHEMA_VERSION:  # a current journal is opened without a write lock
                conn.executescript(
                    f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
            break
        except sqlite3.OperationalError as e:
            if conn.in_transaction:
                conn.rollback()
            busy = "locked" in str(e) or "busy" in str(e)
            if not busy or time.monotonic() > deadline:
                raise convert_error(e, f"opening the journal {path}") from e
            time.sleep(0.02)
        except sqlite3.Error as e:
            raise convert_error(e, f"opening the journal {path}") from e
    if mode != "wal":
        raise JournalError(f"Journal {path}: WAL mode is required, SQLite gave {mode!r}")
    if found > SCHEMA_VERSION:
        raise JournalError(
            f"Journal {path} has schema version {found}; this kiroku knows up to "
            f"{SCHEMA_VERSION}: upgrade kiroku to open it"
        )
