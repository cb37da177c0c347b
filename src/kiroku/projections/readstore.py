"""What runners, Read APIs, operators and the CLI need from a read store, whatever holds it.

A read store is one generation of one projection: its documents, its own
tables, a full-text index if it wants one, and its bookkeeping (checkpoint,
per-stream versions, ledger, parked events, rebuild notes) — all changed in one
transaction, so each event takes effect exactly once. Two backends implement
these protocols: ``kiroku.projections.store`` (one SQLite file) and
``kiroku.projections.postgres`` (one PostgreSQL schema).

Dialects stay inside the backends. Handlers see collections (``get``, ``put``,
``patch``, ``query`` on dotted JSON paths) and text indexes (``put``, ``search``)
that each backend spells in its own SQL; the bookkeeping modules
(``checkpoint``, ``ledger``, …) write the SQL both engines accept (``ON
CONFLICT``, ``RETURNING``) with ``?`` placeholders, which the PostgreSQL
connection rewrites. A projection with its own tables may use ``Tx.execute``
with the same portable SQL, and ``Tx.dialect`` when it truly needs two spellings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol, TypeAlias

from kiroku.domain.envelope import JSON

__all__ = [
    "Cursor",
    "Dialect",
    "DocReader",
    "DocWriter",
    "Document",
    "Filter",
    "ReadStore",
    "ReadView",
    "Row",
    "SqlConnection",
    "TextReader",
    "TextWriter",
    "Tx",
]

Row = tuple[object, ...]
Document: TypeAlias = dict[str, JSON]
Filter: TypeAlias = tuple[str, str, JSON]
"""``(path, op, value)`` with op one of ``= != < <= > >=``."""
Dialect = Literal["sqlite", "postgresql"]


class Cursor(Protocol):
    """The part of a DB-API cursor the bookkeeping uses. Rows are untyped, as DB-API
    rows are: the bookkeeping converts each column it reads."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class SqlConnection(Protocol):
    """A store's connection for bookkeeping SQL (``?`` placeholders, portable SQL)."""

    def execute(self, sql: str, params: Sequence[object] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[object]], /) -> object: ...


class DocReader(Protocol):
    """Reads of one collection of JSON documents."""

    name: str

    async def get(self, doc_id: str) -> Document | None: ...

    async def query(
        self,
        where: Mapping[str, JSON] | None = None,
        *,
        filters: Sequence[Filter] = (),
        order_by: str | Sequence[str] | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Document]: ...

    async def count(
        self, where: Mapping[str, JSON] | None = None, *, filters: Sequence[Filter] = ()
    ) -> int: ...

    async def ids(self) -> list[str]: ...


class DocWriter(DocReader, Protocol):
    """Reads and writes of one collection inside the runner's transaction."""

    async def put(self, doc_id: str, doc: Mapping[str, JSON]) -> None: ...

    async def patch(
        self, doc_id: str, changes: Mapping[str, JSON], *, upsert: bool = False
    ) -> None: ...

    async def delete(self, doc_id: str) -> bool: ...


class TextReader(Protocol):
    """Full-text search over one text index: every word of ``words`` must occur.

    ``within`` restricts a field to a set of values (``{"room_id": [...]}``).
    Results are the entries' fields plus ``text``, best match first; the ranking
    is the engine's own (SQLite's bm25, PostgreSQL's ``ts_rank``).
    """

    async def search(
        self, words: str, *, within: Mapping[str, Sequence[str]] | None = None, limit: int = 50
    ) -> list[Document]: ...


class TextWriter(TextReader, Protocol):
    async def put(self, key: str, text: str, fields: Mapping[str, JSON]) -> None:
        """Index ``text`` under ``key`` (replacing what was there) with ``fields`` beside it."""

    async def set_text(self, key: str, text: str) -> bool:
        """Replace the text of an entry, keeping its fields; False if there is none."""

    async def delete(self, key: str) -> bool: ...


class Tx(Protocol):
    """The runner's transaction as a handler sees it."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def conn(self) -> SqlConnection:
        """For the runner's bookkeeping in the same transaction; held writes flushed first."""

    def collection(self, name: str) -> DocWriter: ...

    def text_index(self, name: str) -> TextWriter: ...

    async def execute(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...

    def flush(self) -> None: ...


class ReadView(Protocol):
    """A projection's read model for queries, never blocked by its writer."""

    name: str

    @property
    def dialect(self) -> Dialect: ...

    def collection(self, name: str) -> DocReader: ...

    def text_index(self, name: str) -> TextReader: ...

    async def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    async def dump(self) -> dict[str, list[str]]:
        """Every read-model table's rows as sorted text (bookkeeping left out), to
        compare two generations on one engine: replay against rebuild."""

    def close(self) -> None: ...


class ReadStore(Protocol):
    """One generation of one projection's read store, as its runner holds it."""

    name: str

    @property
    def location(self) -> str:
        """Where it lives (a file path, a schema): a new location is a new generation."""

    @property
    def conn(self) -> SqlConnection: ...

    def present(self) -> bool:
        """False when the store was deleted from under its server (readiness says so)."""

    def reader(self) -> ReadView: ...

    def ensure_indexes(self, indexes: Mapping[str, Sequence[str | tuple[str, ...]]]) -> None: ...

    def transaction(
        self, position: int | None = None, *, immediate: bool = True
    ) -> AbstractAsyncContextManager[Tx]: ...

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    def data_version(self) -> int:
        """Changes when another process commits: the runner then reloads its caches."""

    def close(self) -> None: ...
