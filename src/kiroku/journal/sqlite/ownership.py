"""Which app a journal belongs to, recorded in the journal file itself.

A journal holds one app's events: ``kiroku schema check`` decodes every event
with that app's registry, and its projections fold them. A command of another
app that appended to it (``kiroku demo`` into the chat's data directory, or
``kiroku serve --app bank:app`` over the chat's) would leave events no
registry of either app can read, for ever. So every command that writes a
journal claims it first: the first claim records the app's name in a one-row
table, ``kiroku_app``, beside the events, and every later claim by another app
is refused before anything is appended.

The table lives in the journal file, not beside it, so copying or moving the
file keeps the record; it is created with ``CREATE TABLE IF NOT EXISTS`` in a
short ``BEGIN IMMEDIATE`` transaction, so two processes claiming at once agree
on one owner, and a server that already has the file open is not disturbed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kiroku.errors import ConfigError

__all__ = ["JournalOwnedError", "claim_journal", "journal_app"]

_TABLE = "CREATE TABLE IF NOT EXISTS kiroku_app (name TEXT NOT NULL)"


class JournalOwnedError(ConfigError):
    """The journal was claimed by another app; ``owner`` names it."""

    def __init__(self, path: Path, owner: str, app: str) -> None:
        self.path, self.owner, self.app = path, owner, app
        super().__init__(
            f"The journal {path} belongs to the app {owner!r}, not {app!r}: "
            "nothing was appended. Use another --data directory for this app."
        )


def _connect(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(path, timeout=10.0, isolation_level=None)
    except sqlite3.Error as e:
        raise ConfigError(f"Cannot open the journal {path}: {e}") from e


def journal_app(path: Path) -> str | None:
    """The app that claimed the journal at ``path``, or None (no file, or never claimed)."""
    if not path.exists():
        return None
    conn = _connect(path)
    try:
        found = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'kiroku_app'"
        ).fetchone()
        if found is None:
            return None
        row = conn.execute("SELECT name FROM kiroku_app LIMIT 1").fetchone()
        return None if row is None else str(row[0])
    except sqlite3.Error as e:
        raise ConfigError(f"Cannot read the journal {path}: {e}") from e
    finally:
        conn.close()


def claim_journal(path: Path, app: str) -> None:
    """Record ``app`` as the journal's owner, or raise JournalOwnedError if another app is.

    Call it after the journal has been opened (and its schema created), before
    the first append.
    """
    conn = _connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_TABLE)
            row = conn.execute("SELECT name FROM kiroku_app LIMIT 1").fetchone()
            if row is None:
                conn.execute("INSERT INTO kiroku_app (name) VALUES (?)", (app,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as e:
        raise ConfigError(f"Cannot record the app in the journal {path}: {e}") from e
    finally:
        conn.close()
    if row is not None and str(row[0]) != app:
        raise JournalOwnedError(path, str(row[0]), app)
