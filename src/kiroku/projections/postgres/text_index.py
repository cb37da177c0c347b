"""Full-text indexes on PostgreSQL: a table per index with a generated ``tsvector``
and a GIN index. Words are matched with ``plainto_tsquery('simple', …)``: every
word must occur, none is syntax, as the SQLite index's quoted FTS5 words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import msgspec
import psycopg

from kiroku.domain.envelope import JSON
from kiroku.projections.docstore import check_name
from kiroku.projections.postgres.documents import Fetch
from kiroku.projections.postgres.sql_text import read_sql
from kiroku.projections.readstore import Document, Row

__all__ = ["PgTextIndex", "PgTextReader"]

_encoder = msgspec.json.Encoder()


class PgTextReader:
    def __init__(self, fetch: Fetch, name: str) -> None:
        self._fetch = fetch
        self._table = f"fts_{check_name(name)}"

    async def search(
        self, words: str, *, within: Mapping[str, Sequence[str]] | None = None, limit: int = 50
    ) -> list[Document]:
        if not words.split():
            return []
        terms = ["tsv @@ plainto_tsquery('simple', %s)"]
        params: list[object] = [words]
        for field, values in (within or {}).items():
            if not values:
                return []
            terms.append(f"fields ->> '{check_name(field)}' = ANY(%s)")
            params.append(list(values))
        sql = (
            f"SELECT text, fields FROM {self._table} WHERE {' AND '.join(terms)}"
            " ORDER BY ts_rank(tsv, plainto_tsquery('simple', %s)) DESC, key LIMIT %s"
        )
        rows = await self._fetch(sql, [*params, words, limit])
        return [{**cast(Document, r[1]), "text": cast(str, r[0])} for r in rows]


class PgTextIndex(PgTextReader):
    """Writes inside the runner's transaction (``flush`` keeps held writes in order)."""

    def __init__(
        self, conn: psycopg.Connection[Row], name: str, fetch: Fetch, *, create: bool = True
    ) -> None:
        super().__init__(fetch, name)
        self._conn = conn
        if create:
            conn.execute(read_sql("text_index.sql").replace("{table}", self._table).encode())

    async def put(self, key: str, text: str, fields: Mapping[str, JSON]) -> None:
        await self._fetch(
            f"INSERT INTO {self._table}(key, text, fields) VALUES (%s, %s, %s::jsonb)"
            " ON CONFLICT(key) DO UPDATE SET text = excluded.text, fields = excluded.fields"
            " RETURNING 1",
            (key, text, _encoder.encode(dict(fields)).decode()),
        )

    async def set_text(self, key: str, text: str) -> bool:
        rows = await self._fetch(
            f"UPDATE {self._table} SET text = %s WHERE key = %s RETURNING 1", (text, key)
        )
        return bool(rows)

    async def delete(self, key: str) -> bool:
        rows = await self._fetch(f"DELETE FROM {self._table} WHERE key = %s RETURNING 1", (key,))
        return bool(rows)
