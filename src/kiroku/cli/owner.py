"""One process at a time owns a data directory, and the directory is the owner's only.

``kiroku serve`` runs the projections over its data directory and keeps their
read stores open. A command from another process that moves them (replay,
rebuild, retrying or skipping a parked event) would change stores the server
holds in memory: the server would go on serving, and applying events to, what
it opened. So the server and those commands each own the directory while they
run, and whoever comes second is refused, told who owns it, and changes nothing.

The lock is an exclusive ``flock`` on the **directory itself**, which cannot be
deleted from under its owner as a lock file could (deleting ``owner.lock`` once
let a second server run on the same directory). ``owner.lock`` only says who
holds it, for the refusal's message. The kernel releases a ``flock`` when its
process dies, so a crash never leaves the directory locked. Commands that only
read (status, ledger, listing parked events) and those that only append to the
journal (``retract``: a running server hears of it and acts) take no lock.

Read stores on PostgreSQL have no directory to lock: there ``claiming`` holds a
writer's advisory lock per projection in the database instead, taken by the
projector role for all its projections and by a command for the one it moves.

Owning also makes the directory private and checks it can be written:

* **owner-only**: the directory and everything in it become 0700/0600 (the
  journal, the read stores, ``users.json``, ``demo-tokens.json`` with its
  plaintext tokens), and the process's umask becomes 077 while it owns it, so
  every file created later is born private;
* **writable**: a directory that cannot be written (read-only, immutable, full)
  is refused at start with a clear error instead of failing on the first post,
  and ``faulthandler`` is on, so a fatal signal (SIGBUS from a memory-mapped
  SQLite file that became unwritable) leaves a log line and a traceback.
"""

from __future__ import annotations

import contextlib
import faulthandler
import fcntl
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import psycopg
from psycopg.rows import TupleRow

from kiroku.errors import DataDirectoryBusyError, StorageUnavailableError
from kiroku.roles.spec import RoleSpec, StartupError, safe_url

__all__ = ["LOCK_FILE", "check_writable", "claiming", "make_private", "owning", "projector_claim"]

log = logging.getLogger("kiroku.owner")

LOCK_FILE = "owner.lock"


@contextlib.contextmanager
def owning(data: Path, who: str, hint: str = "") -> Iterator[None]:
    """Own ``data`` as ``who`` (e.g. ``"kiroku serve"``) for the ``with`` block.

    Raises ``DataDirectoryBusyError`` naming the current owner (and ``hint``,
    what to do instead) when another process owns it, and
    ``StorageUnavailableError`` when it cannot be written.
    """
    try:
        data.mkdir(parents=True, exist_ok=True)  # a read-store directory named for the first time
        directory = os.open(data, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise StorageUnavailableError(f"{data} cannot be opened: {e.strerror}") from e
    try:
        try:
            fcntl.flock(directory, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirectoryBusyError(str(data), _holder(data), hint) from None
        check_writable(data)
        try:
            make_private(data)
        except OSError as e:
            raise StorageUnavailableError(f"{data} cannot be made private: {e}") from e
        _enable_faulthandler()
        umask = os.umask(0o077)
        try:
            with _note(data / LOCK_FILE, f"{who} (pid {os.getpid()})\n"):
                yield
        finally:
            os.umask(umask)
    finally:
        os.close(directory)  # releases the lock


def make_private(data: Path) -> None:
    """The directory and everything under it: owner-only (0700 directories, 0600 files)."""
    os.chmod(data, 0o700)
    for root, dirs, files in os.walk(data):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700, follow_symlinks=False)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


def check_writable(data: Path) -> None:
    """Create, write, sync and remove a file in ``data``: what a journal append needs."""
    probe = data / f".kiroku-write-check-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"kiroku")
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as e:
        raise StorageUnavailableError(f"{data} cannot be written: {e.strerror}") from e


def _enable_faulthandler() -> None:
    """Tracebacks on fatal signals, to the process's real stderr (not a captured one)."""
    if sys.__stderr__ is None:
        return
    with contextlib.suppress(ValueError, OSError):  # no descriptor behind it
        faulthandler.enable(file=sys.__stderr__)


def _holder(data: Path) -> str:
    try:
        return (data / LOCK_FILE).read_text(errors="replace").strip()[:200] or "another process"
    except OSError:
        return "another process"


@contextlib.contextmanager
def _note(path: Path, text: str) -> Iterator[None]:
    """``text`` in ``path`` for the block; the file may be deleted meanwhile, harmlessly."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


_WRITER = "kiroku projection writer"  # per projection; shared by the lanes of one
_PARTITION = "kiroku projection partition"  # per projection and partition, for lanes
_TRY = "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))"
_TRY_SHARED = "SELECT pg_try_advisory_lock_shared(hashtext(%s), hashtext(%s))"
_HOLDER = (
    "SELECT a.application_name, a.pid, coalesce(host(a.client_addr), 'local')"
    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
    " AND l.classid = hashtext(%s)::oid AND l.objid = hashtext(%s)::oid"
)
Lock = tuple[str, str, bool]  # (class, key, shared)


def _locks(names: Iterable[str], partitions: Sequence[int] | None) -> list[Lock]:
    """A whole projection's writer lock; or, for a lane, that lock shared (lanes of one
    projection coexist; a rebuild command or a whole projector is refused beside
    them) and an exclusive lock per partition (two lanes never share a partition)."""
    names = sorted(set(names))
    if partitions is None:
        return [(_WRITER, name, False) for name in names]
    return [(_WRITER, name, True) for name in names] + [
        (_PARTITION, f"{name}:{p}", False) for name in names for p in partitions
    ]


WATCH_SECONDS = 2.0


@contextlib.contextmanager
def claiming(
    conninfo: str,
    names: Iterable[str],
    who: str,
    hint: str = "",
    partitions: Sequence[int] | None = None,
) -> Iterator[None]:
    """Be the only writer of each named projection's read store on PostgreSQL.

    A session advisory lock per projection, on a connection of its own, taken by
    every process that moves a projection (a projector, ``kiroku rebuild`` ...):
    whoever comes second is refused with ``DataDirectoryBusyError`` naming the
    holder, and changes nothing. The server releases the locks when the
    connection ends, so a crash leaves nothing locked; for the same reason a
    lost connection loses them, so a watcher connects again and takes them back,
    and if another process took one meanwhile this process stops (SIGTERM)
    rather than write beside it.
    """
    locks = _locks(names, partitions)
    where = safe_url(conninfo)
    conn = _claim(conninfo, locks, who, hint, where)
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(conn, conninfo, locks, who, stop), name="kiroku-claim", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def projector_claim(
    spec: RoleSpec, names: Iterable[str]
) -> contextlib.AbstractContextManager[None]:
    """What a process running ``spec``'s roles holds so that it alone writes its
    projections' read stores on PostgreSQL (on SQLite, ``owning`` their directory)."""
    if "projector" not in spec.roles or not spec.read_on_postgres:
        return contextlib.nullcontext()
    hint = "one projector per projection: stop the other one, or wait for the command to end"
    if spec.partitions is not None:
        hint = "one projector per partition, and no command moving the projection meanwhile"
    lanes = spec.lane_partitions()
    return claiming(spec.read_store, names, "kiroku serve --role projector", hint, lanes)


def _claim(
    conninfo: str, locks: list[Lock], who: str, hint: str, where: str
) -> psycopg.Connection[TupleRow]:
    try:
        conn = psycopg.Connection.connect(
            conninfo,
            autocommit=True,
            connect_timeout=5,
            application_name=f"{who} (pid {os.getpid()})"[:63],
        )
    except psycopg.Error as e:
        raise StartupError(f"Cannot reach the PostgreSQL read stores at {where}: {e}") from e
    try:
        for kind, key, shared in locks:
            row = conn.execute(_TRY_SHARED if shared else _TRY, (kind, key)).fetchone()
            if row is None or not row[0]:
                found = conn.execute(_HOLDER, (kind, key)).fetchone()
                holder = (
                    f"{found[0] or 'a client'} (backend {found[1]}, from {found[2]})"
                    if found
                    else "another process"
                )
                what = key.replace(":", ", partition ") if kind == _PARTITION else key
                raise DataDirectoryBusyError(f"the read store of {what} at {where}", holder, hint)
    except psycopg.Error as e:
        conn.close()
        raise StartupError(f"Cannot lock the read stores at {where}: {e}") from e
    except BaseException:
        conn.close()
        raise
    return conn


def _watch(
    conn: psycopg.Connection[TupleRow],
    conninfo: str,
    locks: list[Lock],
    who: str,
    stop: threading.Event,
) -> None:
    """Hold the locks until ``stop``; take them back after a lost connection."""
    try:
        while not stop.wait(WATCH_SECONDS):
            try:
                conn.execute("SELECT 1")
                continue
            except psycopg.Error:
                conn.close()
            try:
                conn = _claim(conninfo, locks, who, "", safe_url(conninfo))
                log.warning("the read stores' locks were lost with the connection; taken back")
            except DataDirectoryBusyError as e:
                log.error("stopping: %s", e)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            except StartupError:
                continue  # unreachable still: try again at the next turn
    finally:
        # the server frees a closed session's locks only once its backend has gone,
        # a moment after the close returns: a successor starting at once would be refused
        with contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_advisory_unlock_all()")
        conn.close()
