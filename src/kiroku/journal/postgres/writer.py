"""Group commit for the PostgreSQL journal.

Appends queue up; each writer task takes everything queued (up to
``max_batch``) and runs it as one call of ``append_batch``, a single statement
and so a single transaction: one round trip and one commit for the lot.
Appends that arrive while a commit is in flight form the next batch, so the
busier the journal, the more appends share a commit, with no timer and no
added latency when it is idle.

Expected rejections (a stale expected version) come back as outcomes and cost
nothing. If a constraint breaks (a duplicate event id, or another process
writing the same stream version first) the transaction is rolled back and the
batch runs again with one savepoint per append, so only the offender fails.
An append told to ``retry`` (its stream was written by a newer transaction
meanwhile) goes into the next batch, which runs in a newer transaction.

Several writer tasks (``writers``) may run batches at once, each on its own
connection; with ``max_batch=1`` that is one transaction per append. Futures
are answered only after COMMIT returned.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from kiroku.errors import (
    InputError,
    JournalClosedError,
    JournalError,
    KirokuError,
    RetriesExhaustedError,
    WrongExpectedVersionError,
)
from kiroku.journal.postgres.errors import convert_error, is_unavailable, unavailable
from kiroku.journal.postgres.rows import Append, expected_number
from kiroku.journal.protocol import AppendResult

__all__ = ["GroupWriter", "WriterStats"]

log = logging.getLogger(__name__)

_APPEND_BATCH = (
    "SELECT outcome, new_version, first_position, last_position, detail FROM append_batch("
    "%s::text[], %s::bigint[], %s::integer[], %s, %s::text[], %s::integer[], %s::text[],"
    " %s::uuid[], %s::timestamptz[], %s::text[], %s::text[], %s::jsonb[])"
)
_MAX_RETRIES = 20

Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters since open; ``appends / commits`` is the group-commit gain."""

    commits: int
    appends: int
    events: int
    rejected: int
    retried: int
    largest_batch: int


@dataclass(slots=True)
class _Pending:
    append: Append
    future: asyncio.Future[AppendResult]
    attempts: int = 0


@dataclass(slots=True)
class _Counters:
    commits: int = 0
    appends: int = 0
    events: int = 0
    rejected: int = 0
    retried: int = 0
    largest: int = 0


class GroupWriter:
    def __init__(
        self,
        connect: Connect,
        on_commit: Callable[[int], None],
        target: str,
        *,
        writers: int,
        max_batch: int,
    ) -> None:
        self._connect = connect
        self._on_commit = on_commit
        self._target = target
        self._max_batch = max_batch
        self._queue: collections.deque[_Pending] = collections.deque()
        self._ready = asyncio.Event()
        self._closing = False
        self._n = _Counters()
        self._tasks = [
            asyncio.create_task(self._run(), name=f"kiroku-pg-writer-{i}") for i in range(writers)
        ]

    @property
    def stats(self) -> WriterStats:
        n = self._n
        return WriterStats(n.commits, n.appends, n.events, n.rejected, n.retried, n.largest)

    async def submit(self, append: Append) -> AppendResult:
        if self._closing:
            raise JournalClosedError()
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(append, future))
        self._ready.set()
        return await future

    async def close(self) -> None:
        """Finish what is queued, then stop."""
        self._closing = True
        self._ready.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        while self._queue and len(batch) < self._max_batch:
            batch.append(self._queue.popleft())
        if not self._queue and not self._closing:  # closing: every writer must see it
            self._ready.clear()
        return batch

    async def _run(self) -> None:
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            while True:
                await self._ready.wait()
                batch = self._take()
                if not batch:
                    if self._closing:
                        return
                    continue
                if conn is None or conn.closed:
                    try:
                        conn = await self._connect()
                    except (psycopg.Error, OSError) as e:  # fail fast: nothing queued can commit
                        self._fail(batch + self._take_all(), unavailable(e, self._target))
                        continue
                try:
                    outcomes = await self._commit(conn, batch)
                except (psycopg.Error, OSError) as e:
                    error = convert_error(e, "appending", self._target)
                    if is_unavailable(e):
                        await _discard(conn)
                        conn = None
                        batch += self._take_all()  # fail fast: nothing queued can commit now
                    self._fail(batch, error)
                    continue
                except Exception as e:  # a bug must fail its callers, not strand them
                    log.exception("group commit failed")
                    self._fail(batch, JournalError(f"appending failed: {e!r}"))
                    await _discard(conn)
                    conn = None
                    continue
                self._settle(batch, outcomes)
        finally:
            await _discard(conn)

    def _take_all(self) -> list[_Pending]:
        rest = list(self._queue)
        self._queue.clear()
        if not self._closing:
            self._ready.clear()
        return rest

    async def _commit(
        self, conn: psycopg.AsyncConnection[Any], batch: list[_Pending]
    ) -> list[tuple[Any, ...]]:
        # Streams are locked in name order, the same in every batch and process, so
        # two batches never wait for each other in a cycle; a deadlock with some
        # other transaction (or a serialization failure) is retried whole.
        batch.sort(key=lambda p: p.append.stream)
        for attempt in range(_MAX_RETRIES):
            try:
                try:
                    return await self._transaction(conn, batch, isolate=False)
                except (psycopg.errors.IntegrityError, psycopg.errors.DataError):
                    return await self._transaction(conn, batch, isolate=True)
            except psycopg.errors.TransactionRollback as e:
                log.info("group commit of %d appends retried (%s)", len(batch), e.sqlstate)
                if attempt == _MAX_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def _transaction(
        self, conn: psycopg.AsyncConnection[Any], batch: list[_Pending], *, isolate: bool
    ) -> list[tuple[Any, ...]]:
        appends = [p.append for p in batch]
        params = (
            [a.stream for a in appends],
            [expected_number(a.expected) for a in appends],
            [len(a.types) for a in appends],
            isolate,
            *(
                [x for a in appends for x in getattr(a, name)]
                for name in (
                    "types",
                    "schema_versions",
                    "data",
                    "event_ids",
                    "occurred_at",
                    "correlation_ids",
                    "causation_ids",
                    "metadata",
                )
            ),
        )
        # One statement on an autocommit connection is one transaction, in one
        # round trip: no BEGIN and COMMIT of their own.
        cur = await conn.execute(_APPEND_BATCH, params)
        return await cur.fetchall()

    def _settle(self, batch: list[_Pending], outcomes: list[tuple[Any, ...]]) -> None:
        head = 0
        again: list[_Pending] = []
        for pending, (outcome, version, first, last, detail) in zip(batch, outcomes, strict=True):
            a = pending.append
            if outcome == "ok":
                head = max(head, last)
                self._n.events += len(a.types)
                _resolve(pending.future, AppendResult(a.stream, version, first, last))
            elif outcome == "wrong_version":
                self._n.rejected += 1
                _reject(pending.future, WrongExpectedVersionError(a.stream, a.expected, version))
            elif outcome == "duplicate":
                self._n.rejected += 1
                _reject(pending.future, InputError(f"stream {a.stream}: {_event_id(detail)}"))
            elif outcome == "invalid":
                self._n.rejected += 1
                _reject(pending.future, InputError(f"stream {a.stream}: {detail}"))
            elif outcome == "retry" and pending.attempts < _MAX_RETRIES:
                pending.attempts += 1
                self._n.retried += 1
                again.append(pending)
            else:
                _reject(pending.future, RetriesExhaustedError(a.stream, pending.attempts + 1))
        self._n.commits += 1
        self._n.appends += len(batch)
        self._n.largest = max(self._n.largest, len(batch))
        if again:
            self._queue.extendleft(reversed(again))
            self._ready.set()
        if head:
            self._on_commit(head)

    def _fail(self, batch: list[_Pending], error: KirokuError) -> None:
        for pending in batch:
            _reject(pending.future, error)


def _event_id(detail: str | None) -> str:
    """``Key (event_id)=(…) already exists.`` as the journal's own words."""
    if detail and "=(" in detail:
        value = detail.split("=(", 1)[1].split(")", 1)[0]
        return f"event_id {value} is already in the journal"
    return detail or "an event_id is already in the journal"


def _resolve(future: asyncio.Future[AppendResult], result: AppendResult) -> None:
    if not future.done():
        future.set_result(result)


def _reject(future: asyncio.Future[AppendResult], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


async def _discard(conn: psycopg.AsyncConnection[Any] | None) -> None:
    if conn is not None and not conn.closed:
        try:
            await conn.close()
        except psycopg.Error as e:  # already broken: nothing more to release
            log.debug("closing a writer connection: %s", e)
    return
