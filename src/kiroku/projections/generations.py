"""Where SQLite read stores live: ``DATA/read.db`` says which generation of each
projection serves, and each generation is its own file, ``DATA/read/<name>.g<N>.db``.

A rebuild writes generation N+1 beside the serving N and swaps by updating one
row, so readers (in this process or another) move to the new file atomically;
the previous generation is kept until the next rebuild, for readers still on it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from kiroku.domain.envelope import utc_now
from kiroku.errors import ReadStoreError
from kiroku.projections.damage import DamagedStore, is_damage, move_aside, open_store
from kiroku.projections.readstore import ReadStore
from kiroku.projections.skips import SkipBook

__all__ = ["ReadStores", "open_catalog"]


def open_catalog(root: Path, damaged: dict[str, DamagedStore]) -> ReadStores:
    """``read.db``; one that cannot be opened is moved aside (noted in ``damaged``)."""
    try:
        return ReadStores(root, damaged)
    except ReadStoreError as e:
        if not is_damage(e):
            raise
        damaged["read.db"] = move_aside("read.db", root / "read.db", e)
        return ReadStores(root, damaged)


class ReadStores:
    """The SQLite ``StoreCatalog``; stores that cannot be opened go to ``damaged``."""

    def __init__(
        self, data_dir: Path | str, damaged: dict[str, DamagedStore] | None = None
    ) -> None:
        self.root = Path(data_dir)
        self.damaged = {} if damaged is None else damaged
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.root / "read.db", isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=2000")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS kiroku_generations ("
                " name TEXT PRIMARY KEY, generation INTEGER NOT NULL, swapped_at TEXT)"
            )
        except sqlite3.Error as e:
            raise ReadStoreError("*", None, f"cannot open {self.root / 'read.db'}: {e}") from e

    def path(self, name: str, generation: int) -> Path:
        return self.root / "read" / f"{name}.g{generation}.db"

    @property
    def where(self) -> str:
        return str(self.root / "read.db")

    def present(self) -> bool:
        return (self.root / "read.db").exists()

    def location(self, name: str, generation: int) -> str:
        return str(self.path(name, generation))

    def open(self, name: str, generation: int) -> ReadStore:
        return open_store(self.path(name, generation), name, self.damaged)

    def skip_book(self) -> SkipBook:
        return SkipBook.open(self.root / "read.db")

    def generation(self, name: str) -> int:
        """The serving generation (1 for a projection never rebuilt)."""
        row = self._conn.execute(
            "SELECT generation FROM kiroku_generations WHERE name = ?", (name,)
        ).fetchone()
        return 1 if row is None else int(row[0])

    def swap(self, name: str, generation: int) -> None:
        """Make ``generation`` the serving one; drop files older than the one it replaces."""
        try:
            self._conn.execute(
                "INSERT INTO kiroku_generations(name, generation, swapped_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET generation = excluded.generation, "
                "swapped_at = excluded.swapped_at",
                (name, generation, utc_now().isoformat()),
            )
        except sqlite3.Error as e:
            raise ReadStoreError(name, None, f"cannot swap to generation {generation}: {e}") from e
        for old in range(1, generation - 1):
            self.discard(name, old)

    @contextlib.contextmanager
    def rebuilding(self, name: str) -> Iterator[None]:
        """Nothing to exclude: one process owns a SQLite read store's directory."""
        yield

    @contextlib.contextmanager
    def fence(self, name: str, generation: int) -> Iterator[None]:
        """Nothing to hold off, for the same reason."""
        yield

    def discard(self, name: str, generation: int) -> None:
        base = self.path(name, generation)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{base}{suffix}").unlink()

    def close(self) -> None:
        self._conn.close()
