"""One projection's read database: its documents, its own SQL tables and its bookkeeping.

Each projection (and each generation of it, during a rebuild) lives in its own
SQLite file, so a checkpoint, the per-stream versions, the ledger and the parked
events share a transaction with the read-model change they describe: each event
takes effect exactly once, across crashes. ``synchronous=NORMAL`` is enough
here — a read store is rebuildable from the journal. WAL lets readers (their own
connections) see the last committed batch while the runner writes the next; the
log is checkpointed by a background thread, not in the runner's COMMIT
(``walcheck``).

Driver errors are converted here, once: ``ReadStoreError`` names the projection.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import cast

from kiroku.errors import ReadStoreError
from kiroku.projections.docstore import Collection, ReadCollection, index_sql
from kiroku.projections.readstore import Dialect, ReadView, Row, Tx
from kiroku.projections.textindex import SQLiteTextIndex, SQLiteTextReader
from kiroku.projections.walcheck import BACKSTOP_PAGES, EVERY, checkpointer

__all__ = [
    "ProjectionStore",
    "ReadView",
    "Row",
    "SQLiteReadView",
    "SQLiteTx",
    "Tx",
    "is_store_failure",
    "open_reader",
]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kiroku_checkpoint ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), projection TEXT NOT NULL,"
    " position INTEGER NOT NULL, batch INTEGER NOT NULL, updated_at TEXT)",
    "CREATE TABLE IF NOT EXISTS kiroku_streams ("
    " stream TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS kiroku_batches ("
    " batch INTEGER NOT NULL, first_position INTEGER NOT NULL,"
    " last_position INTEGER NOT NULL, processed_at TEXT NOT NULL,"
    " PRIMARY KEY (batch, first_position)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS kiroku_batches_last ON kiroku_batches(last_position)",
    "CREATE TABLE IF NOT EXISTS kiroku_ledger_exceptions ("
    " position INTEGER NOT NULL, batch INTEGER NOT NULL, outcome TEXT NOT NULL,"
    " detail TEXT, processed_at TEXT NOT NULL, PRIMARY KEY (position, batch)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS kiroku_parked ("
    " id INTEGER PRIMARY KEY, position INTEGER NOT NULL, stream TEXT NOT NULL,"
    " version INTEGER NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,"
    " kind TEXT NOT NULL, error TEXT NOT NULL, traceback TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, parked_at TEXT NOT NULL, status TEXT NOT NULL,"
    " reason TEXT, resolved_at TEXT)",
    "CREATE INDEX IF NOT EXISTS kiroku_parked_open ON kiroku_parked(status, stream, version)",
    # retractions calling for a rebuild (projections compensating by rebuild only)
    "CREATE TABLE IF NOT EXISTS kiroku_rebuild_needed ("
    " position INTEGER PRIMARY KEY, retracted_position INTEGER NOT NULL,"
    " original_type TEXT NOT NULL, noted_at TEXT NOT NULL)",
)

CACHE_KIB = 16384
"""The writing connection's page cache. SQLite's default (2 MiB) held too little of a
busy store: under the posting load the runners read back a page from the log for every
one or two events they wrote (``strace``); the pages stay shared with the OS's cache."""

_FAILURE_WORDS = ("locked", "busy", "full", "disk i/o", "readonly", "malformed", "not a database")


def is_store_failure(e: BaseException) -> bool:
    """True for errors of the store itself (not of a handler's SQL): never park for these."""
    if isinstance(e, ReadStoreError):
        return True
    if not isinstance(e, sqlite3.OperationalError | sqlite3.DatabaseError):
        return False
    text = str(e).lower()
    return any(word in text for word in _FAILURE_WORDS)


class SQLiteTx:
    """The runner's transaction as a handler sees it: collections and raw SQL."""

    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, known: frozenset[str] = frozenset()) -> None:
        self._conn = conn
        self._known = known  # tables committed before: no CREATE ... IF NOT EXISTS again
        self.made: set[str] = set()  # tables this transaction may have created
        self._collections: dict[str, Collection] = {}
        self._texts: dict[str, SQLiteTextIndex] = {}

    @property
    def conn(self) -> sqlite3.Connection:
        """The transaction's connection, for the runner's bookkeeping in the same
        transaction (checkpoint, versions, ledger); handlers use ``collection`` and
        ``execute``, which keep held writes in order."""
        self.flush()
        return self._conn

    def collection(self, name: str) -> Collection:
        col = self._collections.get(name)
        if col is None:
            key = f"doc:{name}"
            col = Collection(self._conn, name, create=key not in self._known)
            self._collections[name] = col
            self.made.add(key)
        return col

    def text_index(self, name: str) -> SQLiteTextIndex:
        index = self._texts.get(name)
        if index is None:
            key = f"fts:{name}"
            index = SQLiteTextIndex(self._conn, name, self.flush, create=key not in self._known)
            self._texts[name] = index
            self.made.add(key)
        return index

    async def execute(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run one statement on the read database (for a projection's own tables)."""
        self.flush()
        return self._conn.execute(sql, params).fetchall()

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self.flush()
        self._conn.executemany(sql, rows)

    def flush(self) -> None:
        """Write what collections hold in memory; runs before COMMIT and before raw SQL."""
        for col in self._collections.values():
            col.flush()


class SQLiteReadView:
    """A projection's read model for queries: its own connection, never blocked by the writer."""

    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, name: str) -> None:
        self._conn = conn
        self.name = name

    def collection(self, name: str) -> ReadCollection:
        return ReadCollection(self._conn, name)

    def text_index(self, name: str) -> SQLiteTextReader:
        return SQLiteTextReader(self._conn, name)

    async def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with _converted(self.name, None):
            return self._conn.execute(sql, params).fetchall()

    async def dump(self) -> dict[str, list[str]]:
        tables = await self.query("SELECT name, type FROM pragma_table_list WHERE schema = 'main'")
        dump: dict[str, list[str]] = {}
        kinds = {str(n): str(k) for n, k in tables}
        for name, kind in sorted(kinds.items()):
            if kind not in ("table", "virtual") or name.startswith(("sqlite_", "kiroku_")):
                continue
            if kind == "table" and kinds.get(name.removesuffix("_keys")) == "virtual":
                continue  # a text index's key map: dumped with its index, below
            if kind == "virtual" and f"{name}_keys" in kinds:
                # a text index by key: its row ids follow the order entries arrived in,
                # which differs between a live run and a rebuild holding the same entries
                sql = f'SELECT k.key, t.* FROM "{name}" t JOIN "{name}_keys" k ON k.row = t.rowid'
            else:
                sql = (
                    f'SELECT rowid, * FROM "{name}"'
                    if kind == "virtual"
                    else f'SELECT * FROM "{name}"'
                )
            dump[name] = sorted(repr(r) for r in await self.query(sql))
        return dump

    def close(self) -> None:
        self._conn.close()


def open_reader(path: Path, name: str, busy_ms: int = 2000) -> SQLiteReadView:
    """A read-only connection to a projection's file (``mode=ro``: a Read API cannot write)."""
    with _converted(name, None):
        uri = f"file:{path}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")
        return SQLiteReadView(conn, name)


@contextlib.contextmanager
def _converted(name: str, position: int | None) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as e:
        raise ReadStoreError(name, position, f"read store failed: {e}") from e


class ProjectionStore:
    """The SQLite file holding one generation of one projection."""

    def __init__(self, path: Path | str, name: str, *, busy_timeout: float = 2.0) -> None:
        self.path = Path(path)
        self.name = name
        self._busy_ms = int(busy_timeout * 1000)
        self._commits = 0
        self._known: set[str] = set()  # tables known committed (collections, text indexes)
        with _converted(name, None):
            self.conn = self._connect()
            for statement in _SCHEMA:
                self.conn.execute(statement)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # walcheck's thread does it
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        return conn

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def dialect(self) -> Dialect:
        return "sqlite"

    def present(self) -> bool:
        return self.path.exists()

    def reader(self) -> ReadView:
        """A read-only view on its own connection."""
        return open_reader(self.path, self.name, self._busy_ms)

    def ensure_indexes(self, indexes: Mapping[str, Sequence[str | tuple[str, ...]]]) -> None:
        with _converted(self.name, None):
            for collection, specs in indexes.items():
                Collection(self.conn, collection)  # outside a transaction: committed at once
                self._known.add(f"doc:{collection}")
                for spec in specs:
                    self.conn.execute(index_sql(collection, spec))

    @contextlib.asynccontextmanager
    async def transaction(
        self, position: int | None = None, *, immediate: bool = True
    ) -> AsyncIterator[SQLiteTx]:
        """BEGIN IMMEDIATE … COMMIT; rolled back on any exception.

        ``immediate=False`` begins a deferred transaction that takes the write
        lock only if it writes: opening a store whose tables exist then never
        waits on (or fails beside) a runner or a replay writing it.
        """
        with _converted(self.name, position):
            self.conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            tx = SQLiteTx(self.conn, frozenset(self._known))
            yield tx
            tx.flush()
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error) and is_store_failure(e):
                raise ReadStoreError(self.name, position, f"read store failed: {e}") from e
            raise
        with _converted(self.name, position):
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise
        self._known |= tx.made
        self._commits += 1
        if self._commits % EVERY == 0:
            checkpointer.request(self.path)

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """A bookkeeping query outside the handlers' view."""
        with _converted(self.name, None):
            return self.conn.execute(sql, params).fetchall()

    def data_version(self) -> int:
        """Changes when another connection commits: the runner then reloads its caches."""
        return cast(int, self.rows("PRAGMA data_version")[0][0])

    def close(self) -> None:
        self.conn.close()
