"""Full-text indexes on SQLite: FTS5, one virtual table per index.

``fts_<name>`` holds the text (tokenized with ``unicode61 remove_diacritics 2``)
and the entry's fields as unindexed JSON; ``fts_<name>_keys`` maps each key to
its FTS row, so replacing or removing an entry finds its row by key rather than
by scanning unindexed columns. User words are quoted, never FTS5 syntax.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import cast

import msgspec

from kiroku.domain.envelope import JSON
from kiroku.projections.docstore import check_name
from kiroku.projections.readstore import Document

__all__ = ["SQLiteTextIndex", "SQLiteTextReader", "fts5_words"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def fts5_words(words: str) -> str:
    """Every word a quoted FTS5 string: all must occur, none is syntax."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words.split())


class SQLiteTextReader:
    def __init__(self, conn: sqlite3.Connection, name: str) -> None:
        self._conn = conn
        self._table = f"fts_{check_name(name)}"

    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):  # nothing was ever indexed
                return []
            raise

    async def search(
        self, words: str, *, within: Mapping[str, Sequence[str]] | None = None, limit: int = 50
    ) -> list[Document]:
        if not words.split():
            return []
        sql = f"SELECT text, fields FROM {self._table} WHERE {self._table} MATCH ?"
        params: list[object] = [fts5_words(words)]
        for field, values in (within or {}).items():
            if not values:
                return []
            check_name(field)
            sql += f" AND json_extract(fields, '$.{field}') IN ({','.join('?' * len(values))})"
            params.extend(values)
        rows = self._rows(sql + " ORDER BY rank LIMIT ?", [*params, limit])
        return [_entry(cast(str, r[0]), cast(str, r[1])) for r in rows]


def _entry(text: str, fields: str) -> Document:
    doc = cast(Document, _decoder.decode(fields))
    doc["text"] = text
    return doc


class SQLiteTextIndex(SQLiteTextReader):
    """Writes inside the runner's transaction (``flush`` first keeps held writes in order)."""

    def __init__(
        self, conn: sqlite3.Connection, name: str, flush: Callable[[], None], *, create: bool = True
    ) -> None:
        super().__init__(conn, name)
        self._flush = flush
        if not create:
            return
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self._table} USING fts5("
            "text, fields UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')"
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table}_keys"
            " (key TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID"
        )

    def _row(self, key: str) -> int | None:
        self._flush()
        found = self._conn.execute(
            f"SELECT row FROM {self._table}_keys WHERE key = ?", (key,)
        ).fetchone()
        return None if found is None else int(found[0])

    async def put(self, key: str, text: str, fields: Mapping[str, JSON]) -> None:
        encoded = _encoder.encode(dict(fields)).decode()
        row = self._row(key)
        if row is not None:
            self._conn.execute(
                f"UPDATE {self._table} SET text = ?, fields = ? WHERE rowid = ?",
                (text, encoded, row),
            )
            return
        cur = self._conn.execute(
            f"INSERT INTO {self._table}(text, fields) VALUES (?, ?)", (text, encoded)
        )
        self._conn.execute(
            f"INSERT INTO {self._table}_keys(key, row) VALUES (?, ?)", (key, cur.lastrowid)
        )

    async def set_text(self, key: str, text: str) -> bool:
        row = self._row(key)
        if row is None:
            return False
        self._conn.execute(f"UPDATE {self._table} SET text = ? WHERE rowid = ?", (text, row))
        return True

    async def delete(self, key: str) -> bool:
        row = self._row(key)
        if row is None:
            return False
        self._conn.execute(f"DELETE FROM {self._table} WHERE rowid = ?", (row,))
        self._conn.execute(f"DELETE FROM {self._table}_keys WHERE key = ?", (key,))
        return True
