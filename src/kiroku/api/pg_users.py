"""Users and their token hashes in the journal's PostgreSQL database, shared by every node.

:class:`PostgreSQLUsers` changes them (``kiroku users``): ``add_user`` and
``remove_user`` (``journal/postgres/sql/functions``) take one lock, so changes
commit in the order of their ``change`` number, and NOTIFY at commit.

:class:`PostgreSQLTokenStore` is a node's copy, answered from memory (see
``user_store``). One connection LISTENs; after each notification, and at least
every :data:`RECHECK` seconds whatever arrives, it reads ``max(change)`` and
reloads the table when that moved. NOTIFY is only a wake-up: a LISTEN
connection that dies quietly costs at most one re-check. Two rules keep a
revoked token from being honoured by a node that cannot know better:

- a failed check marks the store unusable at once (every request needing the
  users: 503, every live stream ends ``user-store-unreadable``) until a check
  succeeds again;
- a copy not confirmed for :data:`STALE` seconds (a check hung on a dead TCP
  connection, a stalled loop) is unusable too, checked on every use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from datetime import datetime
from typing import Any

import psycopg

from kiroku.api.auth import (
    Principal,
    UserRecord,
    digest_of,
    hash_token,
    listed,
    principal_of,
    valid_user_name,
)
from kiroku.domain.closing import cancelled
from kiroku.errors import InputError, UserStoreError

__all__ = ["RECHECK", "STALE", "PostgreSQLTokenStore", "PostgreSQLUsers"]

log = logging.getLogger("kiroku.auth")

RECHECK = 1.0
"""Seconds between re-checks when no notification arrives."""
STALE = 3.0
"""Seconds a copy may go unconfirmed before it is refused (503)."""

_SELECT = (
    "SELECT name, token_sha256, admin, created_at, removed_at, change FROM users ORDER BY name"
)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _record(row: tuple[Any, ...]) -> UserRecord:
    return UserRecord(row[0], row[1], bool(row[2]), _iso(row[3]), _iso(row[4]))


def _options(schema: str, timeout: float) -> dict[str, Any]:
    return {
        "autocommit": True,
        "connect_timeout": max(1, round(timeout)),
        "options": f"-c search_path={schema} -c TimeZone=UTC",
    }


def _target(conninfo: str) -> str:
    from kiroku.journal.postgres.errors import describe_target

    return describe_target(conninfo)


class PostgreSQLUsers:
    """Adding, removing and listing users: one short connection per call (``kiroku users``)."""

    def __init__(self, conninfo: str, schema: str = "kiroku", timeout: float = 5.0) -> None:
        self.conninfo, self.schema, self.timeout = conninfo, schema, timeout

    def _call(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        from kiroku.journal.postgres.errors import convert_error

        try:
            with psycopg.Connection.connect(
                self.conninfo, **_options(self.schema, self.timeout)
            ) as conn:
                return conn.execute(query, params).fetchall()
        except psycopg.errors.UndefinedTable as e:
            raise UserStoreError(
                f"{_target(self.conninfo)} has no users table: run `kiroku db migrate`"
            ) from e
        except psycopg.Error as e:
            raise convert_error(e, "changing users", _target(self.conninfo)) from e

    def records(self) -> list[UserRecord]:
        return [_record(row) for row in self._call(_SELECT)]

    def add(self, name: str, *, admin: bool = False) -> str:
        """Create ``name`` and return its token, the only time it is ever visible."""
        if not valid_user_name(name):
            raise InputError(f"User name {name!r} must be 1-32 of A-Z a-z 0-9 _ . -")
        token = secrets.token_urlsafe(32)
        ((outcome,),) = self._call("SELECT add_user(%s, %s, %s)", (name, hash_token(token), admin))
        if outcome == "exists":
            raise InputError(f"User {name!r} already exists")
        if outcome != "ok":
            raise InputError(
                f"User {name!r} was {outcome}; a removed name is never issued again, "
                "so a new user cannot inherit its rooms and history"
            )
        return token

    def remove(self, name: str) -> None:
        """Revoke ``name``'s token for good, keeping the name as a tombstone."""
        ((outcome,),) = self._call("SELECT remove_user(%s)", (name,))
        if outcome != "ok":
            raise InputError(f"No user named {name!r}")


class PostgreSQLTokenStore:
    """A node's copy of the users table, kept current by LISTEN/NOTIFY and a re-check."""

    def __init__(
        self,
        conninfo: str,
        schema: str = "kiroku",
        *,
        recheck: float = RECHECK,
        stale: float = STALE,
    ) -> None:
        self.admin = PostgreSQLUsers(conninfo, schema)
        self.channel = f"kiroku_users_{schema}"
        self.target = _target(conninfo)
        self._recheck, self._stale = recheck, stale
        self._records: dict[str, UserRecord] = {}
        self._by_hash: dict[str, UserRecord] = {}
        self._seen = -1
        self._confirmed = float("-inf")
        self._error: str | None = "the users have not been read yet"
        self._task: asyncio.Task[None] | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self.changes = 0

    @classmethod
    async def open(cls, conninfo: str, schema: str = "kiroku", **kw: float) -> PostgreSQLTokenStore:
        """Read the users and start following them; StorageUnavailableError if unreachable."""
        from kiroku.journal.postgres.errors import convert_error

        store = cls(conninfo, schema, **kw)
        conn = None
        try:
            conn = await store._connect()
            await store._check(conn)
        except psycopg.Error as e:
            await _close(conn)
            raise convert_error(e, "reading the users", store.target) from e
        store._conn = conn
        store._task = asyncio.create_task(store._follow(), name="kiroku-users-follow")
        return store

    async def close(self) -> None:
        await cancelled(self._task)
        conn, self._conn = self._conn, None
        await _close(conn)

    # -- following the table ---------------------------------------------------------

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(
            self.admin.conninfo, **_options(self.admin.schema, self.admin.timeout)
        )
        await conn.execute(f'LISTEN "{self.channel}"')  # before the check: nothing slips between
        return conn

    async def _check(self, conn: psycopg.AsyncConnection[Any]) -> None:
        cur = await conn.execute("SELECT coalesce(max(change), 0) FROM users")
        row = await cur.fetchone()
        change = int(row[0]) if row else 0
        if change != self._seen:
            rows = await (await conn.execute(_SELECT)).fetchall()
            self._swap([_record(r) for r in rows])
            self._seen = change  # read before the rows: a change in between is read again
        self._confirmed = time.monotonic()
        if self._error is not None:
            log.info("users at %s readable again", self.target)
            self._error = None
            self.changes += 1

    def _swap(self, records: list[UserRecord]) -> None:
        by_name = {u.name: u for u in records}
        if by_name != self._records:
            self.changes += 1
        self._records = by_name
        self._by_hash = {u.token_sha256: u for u in records if not u.removed_at}

    async def _follow(self) -> None:
        while True:
            try:
                if self._conn is None:
                    self._conn = await self._connect()
                await self._check(self._conn)
                async for _ in self._conn.notifies(timeout=self._recheck, stop_after=1):
                    pass
            except (psycopg.Error, OSError) as e:
                self._fail(f"the users at {self.target} cannot be read: {str(e).strip()}")
                conn, self._conn = self._conn, None
                await _close(conn)
                await asyncio.sleep(min(self._recheck, 0.5))

    def _fail(self, why: str) -> None:
        if self._error is None:
            log.error("%s; refusing requests until they can", why)
            self.changes += 1
        self._error = why

    # -- answering from the copy ------------------------------------------------------

    @property
    def unreadable(self) -> str | None:
        self.refresh()
        return self._error

    def refresh(self, max_age: float = 0.0) -> None:
        """No I/O here (the follower reads); turns an unconfirmed copy unusable."""
        age = time.monotonic() - self._confirmed
        if age > self._stale:
            self._fail(f"the users at {self.target} have not been confirmed for {age:.1f}s")

    def _usable(self) -> None:
        self.refresh()
        if self._error is not None:
            raise UserStoreError(self._error)

    def users(self) -> list[UserRecord]:
        self._usable()
        return listed(self._records.values(), removed=False)

    def removed(self) -> list[UserRecord]:
        self._usable()
        return listed(self._records.values(), removed=True)

    def exists(self, name: str) -> bool:
        return self.active(name)

    def active(self, name: str, *, max_age: float = 0.0) -> bool:
        self._usable()
        record = self._records.get(name)
        return record is not None and not record.removed_at

    def authenticate(self, token: str | None) -> Principal:
        digest = digest_of(token)
        self._usable()
        return principal_of(self._by_hash.get(digest), digest)

    def add(self, name: str, *, admin: bool = False) -> str:
        """Add through the database (blocking: the demo's start-up, not the request path)."""
        token = self.admin.add(name, admin=admin)
        self._swap([*self._records.values(), UserRecord(name, hash_token(token), admin)])
        return token

    def remove(self, name: str) -> None:
        self.admin.remove(name)
        old = self._records.get(name)
        if old is not None:
            gone = UserRecord(name, "", old.admin, old.created_at, "now")
            self._swap([gone if u.name == name else u for u in self._records.values()])


async def _close(conn: psycopg.AsyncConnection[Any] | None) -> None:
    if conn is not None:
        with contextlib.suppress(psycopg.Error, OSError):
            await conn.close()
