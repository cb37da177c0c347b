"""The runner's side of a PostgreSQL read store: a transaction on one connection.

The runner's connection is synchronous, as the SQLite store's is: a batch is a
short run of statements on one connection, and the bookkeeping (checkpoint,
versions, ledger) is plain functions over a DB-API-like connection shared by
both engines. ``PgSql`` gives them that connection, rewriting ``?``.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import TupleRow

from kiroku.projections.postgres.documents import PgCollection
from kiroku.projections.postgres.sql_text import pg_sql
from kiroku.projections.postgres.text_index import PgTextIndex
from kiroku.projections.readstore import Cursor, Dialect, Row

__all__ = ["PgSql", "PgTx"]


class PgSql:
    """A ``SqlConnection`` over psycopg: ``?`` placeholders, portable SQL."""

    def __init__(self, conn: psycopg.Connection[TupleRow]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = (), /) -> Cursor:
        return self._conn.execute(pg_sql(sql).encode(), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[object]], /) -> object:
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(pg_sql(sql).encode(), rows)
        return None


class PgTx:
    """The runner's transaction as a handler sees it, on PostgreSQL."""

    dialect: Dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[TupleRow]) -> None:
        self._conn = conn
        self._sql = PgSql(conn)
        self._collections: dict[str, PgCollection] = {}
        self._texts: dict[str, PgTextIndex] = {}

    @property
    def conn(self) -> PgSql:
        self.flush()
        return self._sql

    def collection(self, name: str) -> PgCollection:
        col = self._collections.get(name)
        if col is None:
            col = self._collections[name] = PgCollection(self._conn, name)
        return col

    def text_index(self, name: str) -> PgTextIndex:
        index = self._texts.get(name)
        if index is None:
            index = self._texts[name] = PgTextIndex(self._conn, name, self._fetch)
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
