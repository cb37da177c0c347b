"""A read store's checkpoint and per-stream versions: where its projection stands.

Both are written in the batch's transaction, with the read-model change, so a
crash leaves them exactly as consistent as the documents they describe. Every
function takes the store's connection (``Tx.conn`` inside a transaction).
"""

from __future__ import annotations

from collections.abc import Mapping

from kiroku.domain.envelope import utc_now
from kiroku.projections.readstore import SqlConnection

__all__ = [
    "load_checkpoint",
    "now_text",
    "rewind_streams",
    "save_checkpoint",
    "save_versions",
    "stream_version",
    "streams_since",
]


def now_text() -> str:
    return utc_now().isoformat()


def load_checkpoint(conn: SqlConnection) -> tuple[int, int]:
    row = conn.execute("SELECT position, batch FROM kiroku_checkpoint").fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def save_checkpoint(conn: SqlConnection, name: str, position: int, batch: int) -> None:
    conn.execute(
        "INSERT INTO kiroku_checkpoint(id, projection, position, batch, updated_at) "
        "VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET position = excluded.position, "
        "batch = excluded.batch, updated_at = excluded.updated_at",
        (name, position, batch, now_text()),
    )


def stream_version(conn: SqlConnection, stream: str) -> int:
    row = conn.execute("SELECT version FROM kiroku_streams WHERE stream = ?", (stream,)).fetchone()
    return 0 if row is None else int(row[0])


def save_versions(conn: SqlConnection, versions: Mapping[str, tuple[int, int]]) -> None:
    conn.executemany(
        "INSERT INTO kiroku_streams(stream, version, position) VALUES (?, ?, ?) "
        "ON CONFLICT(stream) DO UPDATE SET version = excluded.version, "
        "position = excluded.position",
        [(s, v, p) for s, (v, p) in versions.items()],
    )


def streams_since(conn: SqlConnection, position: int) -> list[str]:
    """Streams whose last applied event is at or after ``position``."""
    rows = conn.execute("SELECT stream FROM kiroku_streams WHERE position >= ?", (position,))
    return [str(r[0]) for r in rows]


def rewind_streams(conn: SqlConnection, versions: Mapping[str, int], position: int) -> None:
    """Set each stream back to ``version`` (0: never applied) as of just before ``position``."""
    for stream, version in versions.items():
        conn.execute("DELETE FROM kiroku_streams WHERE stream = ?", (stream,))
        if version:
            save_versions(conn, {stream: (version, position - 1)})
