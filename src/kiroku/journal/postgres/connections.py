"""The PostgreSQL journal's connections: one pool for reads and single statements,
and fresh connections for the parts that hold one for long (writer, listener,
notifier).

Kept apart from the journal's API so that every query runs through one place
that turns driver errors into kiroku errors, and tells a journal closed under a
query in flight (the end of a read) from a database that failed (an error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolClosed

from kiroku.errors import JournalClosedError, JournalError
from kiroku.journal.postgres.errors import convert_error
from kiroku.journal.postgres.migrate import migrate, missing_migrations
from kiroku.journal.postgres.rows import register_loaders

__all__ = ["Connections"]


class Connections:
    """Connections to one journal schema, each with the journal's loaders and settings."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str,
        target: str,
        readers: int,
        connect_timeout: float,
        prepared_statements: bool,
    ) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.target = target
        self.closed = False
        self._timeout = connect_timeout
        self._options: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(1, round(connect_timeout)),
            "options": f"-c search_path={schema} -c TimeZone=UTC",
        }
        if not prepared_statements:  # pgbouncer in transaction mode, before 1.21
            self._options["prepare_threshold"] = None
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=readers,
            kwargs=self._options,
            configure=self._configure,
            open=False,
            timeout=connect_timeout,
            name=f"kiroku-journal-{schema}",
        )

    async def open(self, *, create: bool) -> None:
        """Apply missing migrations when ``create``, refuse a schema that lacks some,
        then fill the pool. Unreachable: StorageUnavailableError."""
        try:
            conn = await self.connect()
            try:
                if create:
                    await migrate(conn, self.schema)
                missing = await missing_migrations(conn, self.schema)
            finally:
                await conn.close()
            if missing:
                raise JournalError(
                    f"the journal schema {self.schema} at {self.target} lacks migrations"
                    f" {missing}: run `kiroku db migrate --journal …`"
                )
            await self._pool.open(wait=True, timeout=self._timeout)
        except (psycopg.Error, OSError, JournalError) as e:
            await self._pool.close()
            if isinstance(e, JournalError):
                raise
            raise convert_error(e, "opening the journal", self.target) from e

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        register_loaders(conn)

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        """A connection of its own, outside the pool, for a part that keeps it."""
        conn = await psycopg.AsyncConnection.connect(self.conninfo, **self._options)
        register_loaders(conn)
        return conn

    def check_open(self) -> None:
        if self.closed:
            raise JournalClosedError()

    async def fetch(
        self, doing: str, query: Any, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[Any]:
        """Every row of one statement on a pooled connection; ``doing`` names it in errors."""
        self.check_open()
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(query, params)
                return await cur.fetchall()
        except PoolClosed as e:
            raise JournalClosedError() from e
        except (psycopg.Error, OSError) as e:
            if self.closed:
                raise JournalClosedError() from e
            raise convert_error(e, doing, self.target) from e

    async def scalar(self, doing: str, query: Any, params: Sequence[Any] = ()) -> Any:
        rows = await self.fetch(doing, query, params)
        return rows[0][0] if rows else None

    async def close(self) -> None:
        self.closed = True
        await self._pool.close()
