"""Wake-ups across processes that share one SQLite journal file.

An ``AppendSignal`` only hears of appends made through its own journal object.
When another process appends to the same file (``kiroku events --follow``
beside a running server, two runtimes on one file), readers here would sleep
until their own process next appended. To keep delivery push-driven, every
journal object on a file binds a Unix datagram socket in a small directory
named after the file, and after each commit sends the new head to every other
socket there. Receiving one is a wake-up: the reader then reads the journal as
usual, so a lost datagram can only delay a reader until the next append, never
make it skip an event.

A socket whose process died refuses the datagram; the sender removes it. The
directory lives under the system temporary directory (socket paths are limited
to about 100 bytes) and is private to the user (mode 0700).

Senders list that directory again only when it may have changed
(:class:`PeerDirectory`): a ``stat`` per commit instead of a listing per commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["CrossProcessWakeup", "PeerDirectory", "wakeup_dir"]

log = logging.getLogger(__name__)


def wakeup_dir(journal_path: Path) -> Path:
    """The directory shared by every process that opens ``journal_path``."""
    key = hashlib.sha256(str(journal_path.resolve()).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"kiroku-{key}"


class PeerDirectory:
    """The sockets in a directory of peers, listed again only when it may have changed.

    A listing is kept while the directory's mtime stays what it was. But the kernel
    stamps a change with a clock that moves in ticks (up to 10 ms; kernels before
    6.13 did so for every change), so a socket bound after a listing, within the
    tick of the change before it, leaves the mtime as it was: that peer would
    never be sent to until the directory changed again. A listing is therefore
    trusted only once it was taken :data:`TICK_NS` or more after the mtime it saw;
    until then each call lists again, which costs only in the moments after a
    change. :data:`RELIST_NS` re-lists in any case, for a wall clock set back."""

    TICK_NS = 50_000_000
    """Longer than any kernel's timestamp tick (10 ms at HZ=100), with margin."""
    RELIST_NS = 1_000_000_000

    def __init__(self, directory: Path, own: Path | None = None) -> None:
        self.directory = directory
        self._own = str(own) if own is not None else None
        self._peers: list[str] = []
        self._mtime: int | None = None  # the directory's mtime when last listed
        self._listed_at = 0  # and the wall clock then (ns), taken before the listing

    def current(self) -> list[str]:
        """Every peer's socket path but our own; FileNotFoundError if the directory is gone."""
        mtime = os.stat(self.directory).st_mtime_ns
        listed_at = self._listed_at
        if (
            mtime != self._mtime
            or listed_at - mtime < self.TICK_NS
            or (time.time_ns() - listed_at > self.RELIST_NS)
        ):
            listed_at = time.time_ns()
            own = self._own
            self._peers = [p for p in map(str, self.directory.iterdir()) if p != own]
            self._mtime, self._listed_at = mtime, listed_at
        return self._peers


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, on_head: Callable[[int], None]) -> None:
        self.on_head = on_head

    def datagram_received(self, data: bytes, addr: object) -> None:
        try:
            head = int(data)
        except ValueError:
            log.warning("ignored a malformed journal wake-up: %r", data[:40])
            return
        self.on_head(head)


class CrossProcessWakeup:
    """One journal object's endpoint: hears other processes' commits, announces its own."""

    def __init__(self, directory: Path, transport: asyncio.DatagramTransport, path: Path) -> None:
        self.directory = directory
        self._transport = transport
        self._path = path
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)
        self._peers = PeerDirectory(directory, own=path)

    @classmethod
    async def open(cls, journal_path: Path, on_head: Callable[[int], None]) -> CrossProcessWakeup:
        directory = wakeup_dir(journal_path)
        directory.mkdir(mode=0o700, exist_ok=True)
        path = directory / f"{os.getpid()}-{os.urandom(4).hex()}.sock"
        loop = asyncio.get_running_loop()
        # bound here and passed as ``sock``: uvloop refuses ``local_addr`` for AF_UNIX
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(str(path))
            sock.setblocking(False)
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Receiver(on_head), sock=sock
            )
        except BaseException:
            sock.close()
            raise
        return cls(directory, transport, path)

    def announce(self, head: int) -> None:
        """Tell every other endpoint on this journal that ``head`` is committed."""
        message = str(head).encode()
        try:
            peers = self._peers.current()
        except FileNotFoundError:  # removed under us (temporary directory cleaned)
            return
        for peer in peers:
            try:
                self._sender.sendto(message, peer)
            except (ConnectionRefusedError, FileNotFoundError):
                Path(peer).unlink(missing_ok=True)  # its process is gone
            except (BlockingIOError, PermissionError):
                pass  # its queue is full (it has wake-ups pending) or it is not ours

    def close(self) -> None:
        self._transport.close()
        self._sender.close()
        self._path.unlink(missing_ok=True)
