"""The PostgreSQL catalog of read stores: which generation of each projection
serves (``<prefix>_catalog.generations``), and the operators' skips beside it.

Each generation is its own schema (``schema_name``). A rebuild fills schema
N+1 while readers keep answering from N; the swap is one UPDATE in one
transaction, after which every reader — in this process or another — opens N+1.
N stays until the next swap, for readers still holding it; older ones are
dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from kiroku.domain.envelope import utc_now
from kiroku.errors import InputError, ReadStoreError
from kiroku.projections.postgres.store import PostgresReadStore, schema_name
from kiroku.projections.postgres.transaction import PgSql
from kiroku.projections.postgres.view import connect_options
from kiroku.projections.readstore import ReadStore
from kiroku.projections.skips import SkipBook

__all__ = ["PostgresReadStores"]

_TABLE = (
    "CREATE TABLE IF NOT EXISTS generations ("
    " name text PRIMARY KEY, generation integer NOT NULL, swapped_at text)"
)


_REBUILDING = "SELECT pg_try_advisory_lock(hashtext('kiroku rebuild'), hashtext(%s))"


class PostgresReadStores:
    """The ``StoreCatalog`` of read stores on one PostgreSQL database."""

    def __init__(
        self, conninfo: str, *, prefix: str = "kiroku_rs", connect_timeout: float = 5.0
    ) -> None:
        self.conninfo = conninfo
        self.prefix = prefix
        self.schema = f"{prefix}_catalog"
        self._timeout = connect_timeout
        self._conn: psycopg.Connection[TupleRow] | None = None
        with self._converted("*"):
            conn = self._live()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
                create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}")
                conn.execute(create.format(sql.Identifier(self.schema)))
                conn.execute(_TABLE)

    @contextlib.contextmanager
    def _converted(self, name: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as e:
            raise ReadStoreError(name, None, f"read-store catalog failed: {e}") from e

    def _live(self) -> psycopg.Connection[TupleRow]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = psycopg.Connection.connect(
                self.conninfo, **connect_options(self.schema, self._timeout)
            )
        return self._conn

    def _live_converted(self) -> psycopg.Connection[TupleRow]:
        with self._converted("*"):
            return self._live()

    @property
    def where(self) -> str:
        return f"schema {self.schema}"

    def present(self) -> bool:
        with self._converted("*"):
            row = self._live().execute("SELECT to_regclass('generations')").fetchone()
        return row is not None and row[0] is not None

    def generation(self, name: str) -> int:
        with self._converted(name):
            row = (
                self._live()
                .execute("SELECT generation FROM generations WHERE name = %s", (name,))
                .fetchone()
            )
        return 1 if row is None else int(row[0])

    def location(self, name: str, generation: int) -> str:
        return f"postgresql:{schema_name(name, generation, self.prefix)}"

    def open(self, name: str, generation: int) -> ReadStore:
        schema = schema_name(name, generation, self.prefix)
        return PostgresReadStore(self.conninfo, name, schema=schema, connect_timeout=self._timeout)

    def swap(self, name: str, generation: int) -> None:
        """Serve ``generation`` from now on (one statement); drop generations before the
        one it replaces."""
        with self._converted(name):
            self._live().execute(
                "INSERT INTO generations(name, generation, swapped_at) VALUES (%s, %s, %s)"
                " ON CONFLICT(name) DO UPDATE SET generation = excluded.generation,"
                " swapped_at = excluded.swapped_at",
                (name, generation, utc_now().isoformat()),
            )
        for old in range(1, generation - 1):
            self.discard(name, old)

    @contextlib.contextmanager
    def rebuilding(self, name: str) -> Iterator[None]:
        """A session advisory lock on a connection of its own: lanes in several
        processes may each be told a retraction calls for a rebuild; one builds."""
        with self._converted(name):
            conn = psycopg.Connection.connect(
                self.conninfo, **connect_options(self.schema, self._timeout)
            )
        try:
            with self._converted(name):
                row = conn.execute(_REBUILDING, (name,)).fetchone()
            if row is None or not row[0]:
                raise InputError(f"A rebuild of {name} is running in another process")
            yield
        finally:
            conn.close()

    @contextlib.contextmanager
    def fence(self, name: str, generation: int) -> Iterator[None]:
        """Lock ``generation``'s ``kiroku_changes`` row on a connection of its own, so
        every lane's next transaction waits (``Lane.begin``); on leaving, mark the
        generation retired in the same transaction, so those waiting find it moved.
        Leaving by an exception releases the lock and retires nothing."""
        schema = schema_name(name, generation, self.prefix)
        table = sql.SQL("{}.kiroku_changes").format(sql.Identifier(schema))
        with self._converted(name):
            conn = psycopg.Connection.connect(
                self.conninfo, **connect_options(schema, self._timeout)
            )
        try:
            with self._converted(name), conn.transaction():
                conn.execute(sql.SQL("SELECT n FROM {} WHERE id = 1 FOR UPDATE").format(table))
                yield
                conn.execute(sql.SQL("UPDATE {} SET retired = true WHERE id = 1").format(table))
        finally:
            conn.close()

    def discard(self, name: str, generation: int) -> None:
        drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
        schema = schema_name(name, generation, self.prefix)
        with self._converted(name):
            self._live().execute(drop.format(sql.Identifier(schema)))

    def skip_book(self) -> SkipBook:
        """The skips, in the catalog's schema: every node sees a skip at once."""
        return SkipBook(PgSql(self._live_converted, "*"))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
