"""Checkpointing a read store's write-ahead log off the runner's thread.

SQLite checkpoints a WAL database on the connection whose COMMIT takes the log
past ``wal_autocheckpoint`` pages: it copies the logged pages into the database
file and, at ``synchronous=NORMAL``, syncs the log and the database, all inside
that COMMIT. A runner commits on its event loop, so every few dozen batches a
runner (and every runner after it on the same loop) stalled for two ``fsync``
calls. Under the posting load that was most of the projections' lag: occurred →
applied p50 28-50 ms with the stalls, 3-8 ms without (``benchmarks.http_load``).

So a store's writing connection leaves checkpoints to a background thread
(:class:`Checkpointer`): every :data:`EVERY` commits it asks for a PASSIVE
checkpoint, which the thread runs on a short-lived connection of its own.
PASSIVE never waits for the runner or for readers; what it cannot copy now, a
later one copies. Nothing about durability changes: a committed batch is in the
log, and the log is part of the database for every reader and for recovery.
``wal_autocheckpoint`` stays on, set higher (:data:`BACKSTOP_PAGES`), and it is
what keeps the log short under load. SQLite starts the log over only when a
writer begins a transaction after a checkpoint copied *every* frame, and a
runner committing every few milliseconds always adds frames while the thread's
checkpoint runs: with the thread alone, the log grew to the backstop however
often it ran (16,000 pages, 64 MiB, per store, measured with batches 2 ms
apart). So the runner's own COMMIT checkpoints at the backstop, as SQLite
does by default at 1,000 pages, but little is left for it to copy then (the
thread copied the rest), and the log starts over from there: at once, most
often; later when the thread's own checkpoint holds the log at that moment
(up to 28 MiB was seen in a loaded test run). Readers that never pause starve
the restart the same way; SQLite documents no cure but a pause.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from pathlib import Path

__all__ = ["BACKSTOP_PAGES", "EVERY", "Checkpointer", "checkpointer"]

log = logging.getLogger("kiroku.projections")

EVERY = 32
"""Commits of one store between two requests for a checkpoint."""

BACKSTOP_PAGES = 4096
"""The writing connection's ``wal_autocheckpoint``: past this many log pages (16 MiB
at 4 KiB pages) its COMMIT checkpoints what the thread has not, and the log
starts over."""


class Checkpointer:
    """One daemon thread running PASSIVE checkpoints for the stores of a process."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Path | threading.Event] = queue.SimpleQueue()
        self._waiting: set[Path] = set()  # asked for and not yet run: asked once
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.done = 0  # checkpoints run (tests and benchmarks read it)

    def request(self, path: Path) -> None:
        """Checkpoint ``path`` soon; a request already waiting for it stands for this one."""
        with self._lock:
            if path in self._waiting:
                return
            self._waiting.add(path)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="kiroku-read-store-checkpoint", daemon=True
                )
                self._thread.start()
        self._queue.put(path)

    def join(self) -> None:
        """Wait until every checkpoint asked for so far has run (tests)."""
        with self._lock:
            thread = self._thread
        if thread is None or not thread.is_alive():
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait(30)

    def _serve(self) -> None:
        while True:
            path = self._queue.get()
            if isinstance(path, threading.Event):
                path.set()
                continue
            with self._lock:
                self._waiting.discard(path)
            _checkpoint(path)
            self.done += 1


def _checkpoint(path: Path) -> None:
    """A PASSIVE checkpoint of ``path`` on a connection opened for it: none is held
    open, so a store's files go as soon as it closes. ``mode=rw``: a file removed
    meanwhile (an old generation) is not created again."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None, timeout=0)
    except sqlite3.Error:
        return  # gone: nothing to checkpoint
    try:
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as e:  # busy or gone: the next request tries again
        log.debug("checkpoint of %s skipped: %s", path, e)
    finally:
        conn.close()


checkpointer = Checkpointer()
"""The process's checkpointer, shared by its stores."""
