"""One generation of one projection's read store in its own PostgreSQL schema.

The documents (``doc_<collection>``, ``jsonb``), the projection's own tables,
its text indexes and its bookkeeping (``kiroku_*``) share the schema, so one
transaction covers the read-model change, the checkpoint, the per-stream
versions and the ledger: each event takes effect exactly once, across crashes.

A database that goes away becomes ``ReadStoreError`` here, once (a Read API
answers 503, a runner retries with backoff); the next transaction connects
again. Errors of a handler's own SQL pass through unchanged, to be retried and
parked by the runner's policy like any handler failure.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from kiroku.errors import ReadStoreError
from kiroku.projections.postgres.documents import index_name, index_sql
from kiroku.projections.postgres.sql_text import read_sql
from kiroku.projections.postgres.transaction import PgSql, PgTx
from kiroku.projections.postgres.view import PgReadView, connect_options
from kiroku.projections.readstore import Dialect, ReadView, Row

__all__ = ["PostgresReadStore", "schema_name"]

_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"  # one creator of a schema at a time
_EXISTING = "SELECT count(to_regclass(name)) FROM unnest(%s::text[]) AS name"
_CURRENT = "SELECT to_regclass(%s)"  # the newest bookkeeping table: the schema is up to date


def schema_name(projection: str, generation: int, prefix: str = "kiroku_rs") -> str:
    """``kiroku_rs_chat_search_g2``: the schema of one generation of one projection."""
    base = re.sub(r"[^a-z0-9]+", "_", projection.lower()).strip("_")
    name = f"{prefix}_{base}_g{generation}"
    if len(name) > 63:
        raise ReadStoreError(projection, None, f"schema name {name!r} exceeds 63 bytes")
    return name


class PostgresReadStore:
    def __init__(
        self,
        conninfo: str,
        name: str,
        *,
        schema: str,
        readers: int = 4,
        connect_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.schema = schema
        self._conninfo = conninfo
        self._readers = readers
        self._timeout = connect_timeout
        self._conn: psycopg.Connection[TupleRow] | None = None
        self._own_changes = 0
        self._known: set[str] = set()  # tables known committed (collections, text indexes)
        with self._converted(None):
            conn = self._live()
            with conn.transaction():
                conn.execute(_LOCK, (schema,))
                # DDL on tables in use (another lane's, or a read node's) would lock them
                # against its transactions: only a schema not yet current runs it
                current = conn.execute(_CURRENT, (f"{schema}.kiroku_lanes",)).fetchone()
                if current is None or current[0] is None:
                    create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}")
                    conn.execute(create.format(sql.Identifier(schema)))
                    conn.execute(read_sql("bookkeeping.sql").encode())
                    conn.execute(read_sql("merge_patch.sql").encode())

    @contextlib.contextmanager
    def _converted(self, position: int | None) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as e:
            raise ReadStoreError(self.name, position, f"read store failed: {e}") from e

    def _live(self) -> psycopg.Connection[TupleRow]:
        """The runner's connection, connected again after a failure."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = psycopg.Connection.connect(
                self._conninfo, **connect_options(self.schema, self._timeout)
            )
        return self._conn

    def _live_converted(self) -> psycopg.Connection[TupleRow]:
        with self._converted(None):
            return self._live()

    @property
    def location(self) -> str:
        return f"postgresql:{self.schema}"

    @property
    def dialect(self) -> Dialect:
        return "postgresql"

    @property
    def conn(self) -> PgSql:
        return PgSql(self._live_converted, self.name)

    def present(self) -> bool:
        rows = self.rows("SELECT to_regnamespace(?) IS NOT NULL", (self.schema,))
        return bool(rows[0][0])

    def reader(self) -> ReadView:
        """A view with its own small pool; whoever asked closes it (it may outlive
        this store object: a replay reopens the store, readers keep their view)."""
        return PgReadView(
            self._conninfo,
            self.name,
            self.schema,
            readers=self._readers,
            connect_timeout=self._timeout,
        )

    def ensure_indexes(self, indexes: Mapping[str, Sequence[str | tuple[str, ...]]]) -> None:
        with self._converted(None):
            conn = self._live()
            wanted = [
                f"{self.schema}.{index_name(c, spec)}" for c, s in indexes.items() for spec in s
            ]
            have = conn.execute(_EXISTING, (wanted,)).fetchone() if wanted else None
            if have is not None and have[0] == len(wanted):
                return  # a CREATE INDEX IF NOT EXISTS would still lock each table
            with conn.transaction():
                conn.execute(_LOCK, (self.schema,))
                tx = PgTx(conn, self.name)
                for collection, specs in indexes.items():
                    tx.collection(collection)
                    for spec in specs:
                        conn.execute(index_sql(collection, spec).encode())
            self._known |= tx.made

    @contextlib.asynccontextmanager
    async def transaction(
        self, position: int | None = None, *, immediate: bool = True
    ) -> AsyncIterator[PgTx]:
        """BEGIN … COMMIT on the runner's connection; rolled back on any exception.
        A writing transaction (``immediate``) also counts itself in ``kiroku_changes``."""
        with self._converted(position):
            conn = self._live()
            conn.execute("BEGIN")
        try:
            tx = PgTx(conn, self.name, frozenset(self._known))
            yield tx
            tx.flush()
            if immediate:
                conn.execute("UPDATE kiroku_changes SET n = n + 1 WHERE id = 1")
        except BaseException as e:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
            if isinstance(e, psycopg.OperationalError | psycopg.InterfaceError):
                raise ReadStoreError(self.name, position, f"read store failed: {e}") from e
            raise
        with self._converted(position):
            conn.execute("COMMIT")
        self._known |= tx.made
        if immediate:
            self._own_changes += 1

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._converted(None):
            cur = self.conn.execute(sql, params)
            return cur.fetchall()

    def data_version(self) -> int:
        """The commits of other processes: ``kiroku_changes`` less this store's own."""
        return int(str(self.rows("SELECT n FROM kiroku_changes")[0][0])) - self._own_changes

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
