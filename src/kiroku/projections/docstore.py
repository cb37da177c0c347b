"""A schemaless document store on SQLite: JSON documents in collections.

Consumers keep whatever shape the events give them (pitfall 1: a producer adding
an attribute must not break a consumer's store). Each collection is one table
``doc_<name>(id, doc)``; secondary indexes are SQLite expression indexes on
``json_extract(doc, '$.path')``, and queries spell the expression the same way
so the planner uses them. Paths are validated and inlined (never user SQL).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import cast

import msgspec

from kiroku.domain.envelope import JSON
from kiroku.errors import DocumentNotFoundError, InputError
from kiroku.projections.readstore import Document, Filter

__all__ = [
    "Collection",
    "Document",
    "Filter",
    "ReadCollection",
    "check_name",
    "index_sql",
    "path_parts",
    "table_sql",
]


_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def check_name(name: str, what: str = "Name") -> str:
    """A collection, index or field name, safe to inline in SQL."""
    if not _NAME.match(name):
        raise InputError(f"{what} {name!r} must be lower-case letters, digits and '_'")
    return name


def _table(collection: str) -> str:
    return f"doc_{check_name(collection, 'Collection name')}"


def path_parts(path: str) -> list[str]:
    """A dotted path's keys, checked: never user SQL."""
    if not _PATH.match(path):
        raise InputError(f"JSON path {path!r} must be dotted identifiers like 'author.name'")
    return path.split(".")


def _expr(path: str) -> str:
    if path == "id":
        return "id"
    return "json_extract(doc, '$." + ".".join(path_parts(path)) + "')"


def table_sql(collection: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {_table(collection)} "
        "(id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID"
    )


def index_sql(collection: str, paths: str | Sequence[str]) -> str:
    cols = (paths,) if isinstance(paths, str) else tuple(paths)
    table = _table(collection)
    name = f"ix_{table}__" + "__".join(p.replace(".", "_") for p in cols)
    exprs = ", ".join(_expr(p) for p in cols)
    return f"CREATE INDEX IF NOT EXISTS {name} ON {table}({exprs})"


def _encode(collection: str, doc_id: str, doc: Mapping[str, JSON]) -> str:
    if not isinstance(doc, dict | Mapping):
        raise InputError(f"{collection}/{doc_id}: a document is a JSON object, got {type(doc)}")
    return _encoder.encode(doc).decode()


def _decode(text: str) -> Document:
    return cast(Document, _decoder.decode(text))


def _scalar(path: str, value: JSON) -> JSON:
    if isinstance(value, list | dict):
        raise InputError(f"Query on {path!r}: compare with a scalar, got {type(value).__name__}")
    return value


class ReadCollection:
    """Reads of one collection; what a Read API gets."""

    def __init__(self, conn: sqlite3.Connection, name: str) -> None:
        self._conn = conn
        self.name = name
        self._table = _table(name)

    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):  # nothing was ever written: an empty collection
                return []
            raise

    async def get(self, doc_id: str) -> Document | None:
        rows = self._rows(f"SELECT doc FROM {self._table} WHERE id = ?", (doc_id,))
        return _decode(cast(str, rows[0][0])) if rows else None

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
        """Documents matching ``where`` (path = value) and ``filters``, ordered and paged."""
        clause, params = _where(where, filters)
        sql = f"SELECT doc FROM {self._table}{clause}{_order(order_by, descending)}"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else limit, offset]
        return [_decode(cast(str, r[0])) for r in self._rows(sql, params)]

    async def count(
        self, where: Mapping[str, JSON] | None = None, *, filters: Sequence[Filter] = ()
    ) -> int:
        clause, params = _where(where, filters)
        rows = self._rows(f"SELECT count(*) FROM {self._table}{clause}", params)
        return cast(int, rows[0][0]) if rows else 0

    async def ids(self) -> list[str]:
        return [
            cast(str, r[0]) for r in self._rows(f"SELECT id FROM {self._table} ORDER BY id", ())
        ]


class Collection(ReadCollection):
    """Reads and writes of one collection inside the runner's transaction.

    Whole-document ``put``s are held in memory (the latest per id) and written
    with one ``executemany`` before anything else touches the table and before
    COMMIT: the same transaction, about twice the write rate during a catch-up.
    """

    def __init__(self, conn: sqlite3.Connection, name: str, *, create: bool = True) -> None:
        super().__init__(conn, name)
        if create:
            conn.execute(table_sql(name))
        self._pending: dict[str, str] = {}
        self._put_sql = (
            f"INSERT INTO {self._table}(id, doc) VALUES (?, ?) "
            "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc"
        )
        self._patch_sql = f"UPDATE {self._table} SET doc = json_patch(doc, ?) WHERE id = ?"

    def flush(self) -> None:
        if self._pending:
            rows, self._pending = list(self._pending.items()), {}
            self._conn.executemany(self._put_sql, rows)

    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        self.flush()
        return super()._rows(sql, params)

    async def get(self, doc_id: str) -> Document | None:
        held = self._pending.get(doc_id)
        return _decode(held) if held is not None else await super().get(doc_id)

    async def put(self, doc_id: str, doc: Mapping[str, JSON]) -> None:
        """Insert or replace the whole document."""
        self._pending[doc_id] = _encode(self.name, doc_id, doc)

    async def patch(
        self, doc_id: str, changes: Mapping[str, JSON], *, upsert: bool = False
    ) -> None:
        """Merge ``changes`` into the document (RFC 7386: a None value removes the key).

        A missing document raises DocumentNotFoundError unless ``upsert``.
        """
        text = _encode(self.name, doc_id, changes)
        self.flush()
        cur = self._conn.execute(self._patch_sql, (text, doc_id))
        if cur.rowcount:
            return
        if not upsert:
            raise DocumentNotFoundError(self.name, doc_id)
        self._conn.execute(
            f"INSERT INTO {self._table}(id, doc) VALUES (?, json_patch('{{}}', ?))", (doc_id, text)
        )

    async def delete(self, doc_id: str) -> bool:
        self.flush()
        cur = self._conn.execute(f"DELETE FROM {self._table} WHERE id = ?", (doc_id,))
        return cur.rowcount > 0


def _where(where: Mapping[str, JSON] | None, filters: Sequence[Filter]) -> tuple[str, list[object]]:
    terms: list[str] = []
    params: list[object] = []
    for path, value in (where or {}).items():
        if value is None:
            terms.append(f"{_expr(path)} IS NULL")
        else:
            terms.append(f"{_expr(path)} = ?")
            params.append(_scalar(path, value))
    for path, op, value in filters:
        if op not in _OPS:
            raise InputError(f"Query on {path!r}: operator {op!r} is not one of {sorted(_OPS)}")
        terms.append(f"{_expr(path)} {op} ?")
        params.append(_scalar(path, value))
    return (" WHERE " + " AND ".join(terms) if terms else ""), params


def _order(order_by: str | Sequence[str] | None, descending: bool) -> str:
    if order_by is None:
        return " ORDER BY id DESC" if descending else " ORDER BY id"
    paths = [order_by] if isinstance(order_by, str) else list(order_by)
    way = " DESC" if descending else ""
    keys = [f"{_expr(p)}{way}" for p in paths]
    if "id" not in paths:
        keys.append(f"id{way}")
    return " ORDER BY " + ", ".join(keys)
