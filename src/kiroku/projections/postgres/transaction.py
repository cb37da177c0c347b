"""The runner's side of a PostgreSQL read store: a transaction on one connection.

The runner's connection is synchronous, as the SQLite store's is: a batch is a
short run of statements on one connection, and the bookkeeping (checkpoint,
versions, ledger) is plain functions over a DB-API-like connection shared by
both engines. ``PgSql`` gives them that connection, rewriting ``?``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg
from psycopg.rows import TupleRow

from kiroku.errors import ReadStoreError
from kiroku.projections.postgres.documents import PgCollection
from kiroku.projections.postgres.sql_text import pg_sql
from kiroku.projections.postgres.text_index import PgTextIndex
from kiroku.projections.readstore import Cursor, Dialect, Row

__all__ = ["PgSql", "PgTx"]


class PgSql:
    """A ``SqlConnection`` over psycopg: ``?`` placeholders, portable SQL.

    ``source`` gives the connection for each statement, so a holder kept for long
    (the skips) follows a reconnect; a lost server is a ``ReadStoreError``.
    """

    def __init__(self, source: Callable[[], psycopg.Connection[TupleRow]], name: str) -> None:
        self._source = source
        self._name = name

    def execute(self, sql: str, params: Sequence[object] = (), /) -> Cursor:
        try:
            return self._source().execute(pg_sql(sql).encode(), tuple(params))
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            raise ReadStoreError(self._name, None, f"read store failed: {e}") from e

    def executemany(self, sql: str, rows: Sequence[Sequence[object]], /) -> object:
        if rows:
            try:
                with self._source().cursor() as cur:
                    cur.executemany(pg_sql(sql).encode(), rows)
            except (psycopg.OperationalError, psycopg.InterfaceError) as e:
                raise ReadStoreError(self._name, None, f"read store failed: {e}") from e
        return None


class PgTx:
    """The runner's transaction as a handler sees it, on PostgreSQL."""

    dialect: Dialect = "postgresql"

    def __init__(
        self, conn: psycopg.Connection[TupleRow], name: str, known: frozenset[str] = frozenset()
    ) -> None:
        self._conn = conn
        self._sql = PgSql(lambda: conn, name)
        self._known = known  # tables committed before: no CREATE ... IF NOT EXISTS again
        self.made: set[str] = set()  # tables this transaction may have created
        self._collections: dict[str, PgCollection] = {}
        self._texts: dict[str, PgTextIndex] = {}

    @property
    def conn(self) -> PgSql:
        self.flush()
        return self._sql

    def collection(self, name: str) -> PgCollection:
        col = self._collections.get(name)
        if col is None:
            key = f"doc:{name}"
            col = PgCollection(self._conn, name, create=key not in self._known)
            self._collections[name] = col
            self.made.add(key)
        return col

    def text_index(self, name: str) -> PgTextIndex:
        index = self._texts.get(name)
        if index is None:
            key = f"fts:{name}"
            index = PgTextIndex(self._conn, name, self._fetch, create=key not in self._known)
            self._texts[name] = index
            self.made.add(key)
        return index

    async def _fetch(self, sql: str, params: Sequence[object]) -> list[Row]:
        self.flush()
        cur = self._conn.execute(sql.encode(), tuple(params))
        return cur.fetchall() if cur.description is not None else []

    async def execute(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """One statement of the projection's own (``?`` placeholders, portable SQL)."""
        return await self._fetch(pg_sql(sql), params)

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self.flush()
        self._sql.executemany(sql, rows)

    def flush(self) -> None:
        for col in self._collections.values():
            col.flush()
