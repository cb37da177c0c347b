"""Jobs inside the writer's transaction, each in a savepoint so that a rejected one
(a stale expected version, a duplicate event id) leaves no trace while its
neighbours commit; queued appends first together in one savepoint, one by one
only when one of them breaks a constraint.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import msgspec

from kiroku.errors import KirokuError
from kiroku.journal.protocol import ExpectedVersion
from kiroku.journal.sqlite.schema import EventRow, convert_error

__all__ = [
    "AppendMany",
    "AppendRequest",
    "Explain",
    "Job",
    "Tx",
    "rollback",
    "run_alone",
    "run_one",
    "run_together",
]

T = TypeVar("T")

Explain = Callable[[sqlite3.Connection, sqlite3.IntegrityError], KirokuError]


_HEAD_SQL = "SELECT seq FROM sqlite_sequence WHERE name = 'events'"


class Tx:
    """What a job sees: the connection, and the last position used so far in
    this transaction (jobs that insert events advance it).

    The head is read from the database only when a job asks for it: a lone
    append learns its position from its INSERT instead, one statement fewer
    per commit; another process may have appended since our last commit, so
    it is never carried over from one transaction to the next.
    """

    __slots__ = ("_head", "conn")

    def __init__(self, conn: sqlite3.Connection, head: int | None = None) -> None:
        self.conn = conn
        self._head = head

    @property
    def head(self) -> int:
        if self._head is None:
            row = self.conn.execute(_HEAD_SQL).fetchone()
            self._head = row[0] if row else 0
        return self._head

    @head.setter
    def head(self, value: int) -> None:
        self._head = value

    @property
    def known_head(self) -> int | None:
        """The head if a job read or moved it; None if none needed it."""
        return self._head

    def restore(self, known_head: int | None) -> None:
        """Back to ``known_head`` (from ``known_head``) after a rolled-back job."""
        self._head = known_head


class AppendRequest(msgspec.Struct, frozen=True, gc=False):
    """An append as the writer sees it: rows encoded, positions and versions to come."""

    stream: str
    expected: ExpectedVersion
    rows: Sequence[EventRow]

    def explain(self, conn: sqlite3.Connection, e: sqlite3.IntegrityError) -> KirokuError:
        """The error for a constraint this append broke (run after its rollback)."""
        return convert_error(e, f"appending to stream {self.stream}")


AppendMany = Callable[[Sequence[AppendRequest], Tx], list[object]]
"""Runs several appends at once; returns each one's result or rejection, in order."""


class Job(msgspec.Struct, Generic[T]):
    """A queued write (a Struct: one is built per append)."""

    run: Callable[[Tx], T]
    future: asyncio.Future[T]
    events: int  # how many events an append job inserts; 0 for other writes
    explain: Explain | None  # turns a constraint violation into a specific error
    append: AppendRequest | None  # set for appends: they may run together with others


def run_one(tx: Tx, job: Job[object]) -> object:
    """Run one job in its own savepoint; a rejected job leaves no trace."""
    conn, head = tx.conn, tx.known_head
    conn.execute("SAVEPOINT job")
    try:
        result = job.run(tx)
    except sqlite3.Error as e:
        if not isinstance(e, sqlite3.IntegrityError):
            raise  # I/O error, disk full...: SQLite may have ended the transaction
        error: Exception = _rejection(conn, job, e)
    except Exception as e:  # a rejection (KirokuError), or a bug: this job fails alone
        error = e
    else:
        conn.execute("RELEASE job")
        return result
    conn.execute("ROLLBACK TO job")
    conn.execute("RELEASE job")
    tx.restore(head)
    return error


def run_alone(tx: Tx, job: Job[object]) -> object:
    """A job alone in its transaction needs no savepoint: if it is rejected, the
    whole transaction is rolled back (two statements fewer for a lone append)."""
    conn = tx.conn
    try:
        return job.run(tx)
    except sqlite3.Error as e:
        if not isinstance(e, sqlite3.IntegrityError):
            raise
        rollback(conn)
        return _explained(conn, job, e)
    except Exception as e:  # a rejection (KirokuError), or a bug: nothing of it is kept
        rollback(conn)
        return e


def run_together(tx: Tx, jobs: list[Job[object]], append_many: AppendMany) -> list[object]:
    """Run appends in one savepoint; should one break a constraint, run them one
    savepoint each instead, so that only the offender fails."""
    conn, head = tx.conn, tx.known_head
    conn.execute("SAVEPOINT appends")
    try:
        outcomes = append_many([job.append for job in jobs if job.append is not None], tx)
    except sqlite3.Error as e:
        if not isinstance(e, sqlite3.IntegrityError):
            raise  # as in run_one: the transaction itself is in doubt
    except Exception:  # a bug in one of them: find it, one savepoint at a time
        pass
    else:
        conn.execute("RELEASE appends")
        return outcomes
    conn.execute("ROLLBACK TO appends")
    conn.execute("RELEASE appends")
    tx.restore(head)
    return [run_one(tx, job) for job in jobs]


def _rejection(conn: sqlite3.Connection, job: Job[object], e: sqlite3.IntegrityError) -> Exception:
    """A constraint violation, explained after the job's savepoint is rolled back."""
    conn.execute("ROLLBACK TO job")
    return _explained(conn, job, e)


def _explained(conn: sqlite3.Connection, job: Job[object], e: sqlite3.IntegrityError) -> Exception:
    if job.explain is not None:
        return job.explain(conn, e)
    if job.append is not None:
        return job.append.explain(conn, e)
    return convert_error(e, "writing")


def rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # a broken connection: the next BEGIN says so
            conn.execute("ROLLBACK")
