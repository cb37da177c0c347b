"""The readers' side of a PostgreSQL read store: a small pool per view.

Queries run on the pool's connections in a worker thread (``asyncio.to_thread``),
so a Read API's event loop never waits on the network; each connection's
``search_path`` is the generation's schema, so a projection's own SQL names
its tables plainly. A collection or index never written reads as empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
import psycopg
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from kiroku.errors import ReadStoreError
from kiroku.projections.postgres.documents import PgReadCollection
from kiroku.projections.postgres.sql_text import pg_sql
from kiroku.projections.postgres.text_index import PgTextReader
from kiroku.projections.readstore import Dialect, Row

__all__ = ["PgReadView", "connect_options"]


def connect_options(schema: str, connect_timeout: float) -> dict[str, Any]:
    return {
        "autocommit": True,
        "connect_timeout": max(1, round(connect_timeout)),
        "options": f"-c search_path={schema} -c TimeZone=UTC",
    }


def _configure(conn: psycopg.Connection[Any]) -> None:
    set_json_loads(msgspec.json.decode, conn)


class PgReadView:
    dialect: Dialect = "postgresql"

    def __init__(
        self, conninfo: str, name: str, schema: str, *, readers: int, connect_timeout: float
    ) -> None:
        self.name = name
        self.schema = schema
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=readers,
            kwargs=connect_options(schema, connect_timeout),
            configure=_configure,
            timeout=connect_timeout,
            open=True,
            name=f"kiroku-read-{schema}",
        )

    def _run(self, sql: str, params: Sequence[object]) -> list[Row]:
        try:
            with self._pool.connection() as conn:
                cur = conn.execute(sql.encode(), tuple(params))
                return cur.fetchall() if cur.description is not None else []
        except psycopg.errors.UndefinedTable:
            return []  # nothing was ever written there: empty
        except (psycopg.Error, PoolTimeout) as e:
            raise ReadStoreError(self.name, None, f"read store failed: {e}") from e

    async def _fetch(self, sql: str, params: Sequence[object]) -> list[Row]:
        return await asyncio.to_thread(self._run, sql, params)

    def collection(self, name: str) -> PgReadCollection:
        return PgReadCollection(self._fetch, name)

    def text_index(self, name: str) -> PgTextReader:
        return PgTextReader(self._fetch, name)

    async def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """The projection's own SQL, ``?`` placeholders as on SQLite."""
        return await self._fetch(pg_sql(sql), params)

    async def dump(self) -> dict[str, list[str]]:
        tables = await self._fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
            " AND table_type = 'BASE TABLE' ORDER BY table_name",
            (self.schema,),
        )
        dump: dict[str, list[str]] = {}
        for (name,) in tables:
            if str(name).startswith("kiroku_"):
                continue
            rows = await self._fetch(f'SELECT * FROM "{name}"', ())
            dump[str(name)] = sorted(repr(r) for r in rows)
        return dump

    def close(self) -> None:
        self._pool.close()
