"""JSON documents on PostgreSQL: one ``jsonb`` table per collection.

Paths become ``NULLIF(doc #> '{a,b}', 'null')``: SQL NULL for a missing key
and for a JSON null alike, as ``json_extract`` gives on SQLite, so a filter,
an ``IS NULL`` and the order (nulls first going up) mean the same on both.
Values compare as ``jsonb`` (numbers as numbers, strings by the database's
collation: create the database with ``LC_COLLATE=C`` for SQLite's byte order).
Expression indexes spell the path the same way, so the planner uses them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import cast

import msgspec
import psycopg

from kiroku.domain.envelope import JSON
from kiroku.errors import DocumentNotFoundError, InputError
from kiroku.projections.docstore import check_name, path_parts
from kiroku.projections.postgres.sql_text import read_sql
from kiroku.projections.readstore import Document, Filter, Row

__all__ = ["PgCollection", "PgReadCollection", "index_name", "index_sql", "table_sql"]

Fetch = Callable[[str, Sequence[object]], Awaitable[list[Row]]]
_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_encoder = msgspec.json.Encoder()


def _table(collection: str) -> str:
    return f"doc_{check_name(collection, 'Collection name')}"


def _expr(path: str) -> str:
    if path == "id":
        return "id"
    return "NULLIF(doc #> '{" + ",".join(path_parts(path)) + "}', 'null'::jsonb)"


def table_sql(collection: str) -> str:
    return read_sql("collection.sql").replace("{table}", _table(collection))


def index_name(collection: str, paths: str | Sequence[str]) -> str:
    cols = (paths,) if isinstance(paths, str) else tuple(paths)
    name = f"ix_{_table(collection)}__" + "__".join(p.replace(".", "_") for p in cols)
    return name[:63]


def index_sql(collection: str, paths: str | Sequence[str]) -> str:
    cols = (paths,) if isinstance(paths, str) else tuple(paths)
    exprs = ", ".join(f"({_expr(p)})" for p in cols)
    return (
        f"CREATE INDEX IF NOT EXISTS {index_name(collection, paths)} "
        f"ON {_table(collection)} ({exprs})"
    )


def _param(path: str, value: JSON) -> tuple[str, object]:
    """The placeholder and the value for comparing ``path`` with ``value``."""
    if isinstance(value, list | dict):
        raise InputError(f"Query on {path!r}: compare with a scalar, got {type(value).__name__}")
    if path == "id":
        return "%s", value
    return "%s::jsonb", _encoder.encode(value).decode()


def _where(where: Mapping[str, JSON] | None, filters: Sequence[Filter]) -> tuple[str, list[object]]:
    terms: list[str] = []
    params: list[object] = []
    for path, value in (where or {}).items():
        if value is None:
            terms.append(f"{_expr(path)} IS NULL")
            continue
        mark, param = _param(path, value)
        terms.append(f"{_expr(path)} = {mark}")
        params.append(param)
    for path, op, value in filters:
        if op not in _OPS:
            raise InputError(f"Query on {path!r}: operator {op!r} is not one of {sorted(_OPS)}")
        mark, param = _param(path, value)
        terms.append(f"{_expr(path)} {op} {mark}")
        params.append(param)
    return (" WHERE " + " AND ".join(terms) if terms else ""), params


def _order(order_by: str | Sequence[str] | None, descending: bool) -> str:
    paths = ["id"] if order_by is None else [order_by] if isinstance(order_by, str) else [*order_by]
    way = " DESC NULLS LAST" if descending else " NULLS FIRST"
    keys = [f"{_expr(p)}{way}" for p in paths]
    if "id" not in paths:
        keys.append(f"id{way}")
    return " ORDER BY " + ", ".join(keys)


class PgReadCollection:
    """Reads of one collection; ``fetch`` runs a statement wherever the reader runs them."""

    def __init__(self, fetch: Fetch, name: str) -> None:
        self._fetch = fetch
        self.name = name
        self._table = _table(name)

    async def _rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        return await self._fetch(sql, params)

    async def get(self, doc_id: str) -> Document | None:
        rows = await self._rows(f"SELECT doc FROM {self._table} WHERE id = %s", (doc_id,))
        return cast(Document, rows[0][0]) if rows else None

    async def query(
        self,
        where: Mapping[str, JSON] | None = None,
        *,
        filters: Sequence[Filter] = (),
        order_by: str | Sequence[str] | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Document]:
        clause, params = _where(where, filters)
        sql = f"SELECT doc FROM {self._table}{clause}{_order(order_by, descending)}"
        if limit is not None or offset:
            sql += " LIMIT %s OFFSET %s"
            params += [limit, offset]
        return [cast(Document, r[0]) for r in await self._rows(sql, params)]

    async def count(
        self, where: Mapping[str, JSON] | None = None, *, filters: Sequence[Filter] = ()
    ) -> int:
        clause, params = _where(where, filters)
        rows = await self._rows(f"SELECT count(*) FROM {self._table}{clause}", params)
        return cast(int, rows[0][0]) if rows else 0

    async def ids(self) -> list[str]:
        rows = await self._rows(f"SELECT id FROM {self._table} ORDER BY id", ())
        return [cast(str, r[0]) for r in rows]


class PgCollection(PgReadCollection):
    """Reads and writes inside the runner's transaction; whole-document ``put``s are
    held (the latest per id) and written with one ``executemany`` before anything
    else touches the table, as on SQLite."""

    def __init__(self, conn: psycopg.Connection[Row], name: str, *, create: bool = True) -> None:
        super().__init__(self._fetch_here, name)
        self._conn = conn
        if create:
            conn.execute(table_sql(name).encode())
        self._pending: dict[str, str] = {}
        self._put_sql = (
            f"INSERT INTO {self._table}(id, doc) VALUES (%s, %s::jsonb) "
            "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc"
        )

    async def _fetch_here(self, sql: str, params: Sequence[object]) -> list[Row]:
        self.flush()
        return self._conn.execute(sql.encode(), params).fetchall()

    def flush(self) -> None:
        if self._pending:
            rows, self._pending = list(self._pending.items()), {}
            with self._conn.cursor() as cur:
                cur.executemany(self._put_sql.encode(), rows)

    async def get(self, doc_id: str) -> Document | None:
        held = self._pending.get(doc_id)
        return (
            cast(Document, msgspec.json.decode(held))
            if held is not None
            else (await super().get(doc_id))
        )

    async def put(self, doc_id: str, doc: Mapping[str, JSON]) -> None:
        if not isinstance(doc, Mapping):
            raise InputError(f"{self.name}/{doc_id}: a document is a JSON object, got {type(doc)}")
        self._pending[doc_id] = _encoder.encode(doc).decode()

    async def patch(
        self, doc_id: str, changes: Mapping[str, JSON], *, upsert: bool = False
    ) -> None:
        text = _encoder.encode(changes).decode()
        self.flush()
        cur = self._conn.execute(
            f"UPDATE {self._table} SET doc = kiroku_merge_patch(doc, %s::jsonb) WHERE id = %s",
            (text, doc_id),
        )
        if cur.rowcount:
            return
        if not upsert:
            raise DocumentNotFoundError(self.name, doc_id)
        self._conn.execute(
            f"INSERT INTO {self._table}(id, doc)"
            " VALUES (%s, kiroku_merge_patch('{}', %s::jsonb))",
            (doc_id, text),
        )

    async def delete(self, doc_id: str) -> bool:
        self.flush()
        cur = self._conn.execute(f"DELETE FROM {self._table} WHERE id = %s", (doc_id,))
        return cur.rowcount > 0
