"""One process at a time moves a data directory's projections.

``kiroku serve`` runs the projections over its data directory and keeps their
read stores open. A command from another process that moves them (replay,
rebuild, retrying or skipping a parked event) would change stores the server
holds in memory: the server would go on serving, and applying events to, what
it opened. So the server and those commands each own the directory while they
run, through an exclusive ``flock`` on ``<data>/owner.lock``, and whoever comes
second is refused, told who owns it, and changes nothing.

The kernel releases a ``flock`` when its process dies, so a crash never leaves
the directory locked. Commands that only read (status, ledger, listing parked
events) and those that only append to the journal (``retract``: a running
server hears of it and acts) take no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from kiroku.errors import DataDirectoryBusyError

__all__ = ["LOCK_FILE", "owning"]

LOCK_FILE = "owner.lock"


@contextlib.contextmanager
def owning(data: Path, who: str, hint: str = "") -> Iterator[None]:
    """Own ``data`` as ``who`` (e.g. ``"kiroku serve"``) for the ``with`` block.

    Raises ``DataDirectoryBusyError`` naming the current owner (and ``hint``,
    what to do instead) when another process owns it.
    """
    fd = os.open(data / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            raise DataDirectoryBusyError(str(data), holder or "another process", hint) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{who} (pid {os.getpid()})\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock
