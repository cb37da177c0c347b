"""Read-model commits pushed from a projector process to read processes.

A read node that does not run the projections still serves server-sent events
and ``min_position`` reads, so it must hear of each committed batch, by push.
The projector process sends a small datagram per batch (projection, positions,
streams) to every read process on the same read-store directory, over Unix
datagram sockets in a private directory named after it (like the journal's
cross-process wake-ups). A read process that receives one re-reads that
projection's checkpoint from the store (the source of truth) and tells its
listeners: so a lost datagram delays a live update until the next batch, it
never invents or hides data.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import msgspec

from kiroku.journal.sqlite.wakeup import PeerDirectory
from kiroku.projections.model import BatchCommitted

__all__ = ["CommitReceiver", "CommitSender", "commits_dir"]

log = logging.getLogger("kiroku.roles")
Listener = Callable[[BatchCommitted], None]
_MAX_STREAMS = 2000  # beyond: the note says "many" (empty) and readers wake every key


class _Note(msgspec.Struct, array_like=True):
    projection: str
    batch: int
    first: int
    last: int
    applied: int
    streams: tuple[str, ...]


def commits_dir(read_dir: Path) -> Path:
    key = hashlib.sha256(str(read_dir.resolve()).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"kiroku-commits-{key}"


class CommitSender:
    """A projector process's side: ``send`` is a host listener."""

    def __init__(self, read_dir: Path) -> None:
        self.directory = commits_dir(read_dir)
        self.directory.mkdir(mode=0o700, exist_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._peers = PeerDirectory(self.directory)

    def send(self, note: BatchCommitted) -> None:
        streams = note.streams if len(note.streams) <= _MAX_STREAMS else ()
        data = msgspec.msgpack.encode(
            _Note(note.projection, note.batch, note.first_position, note.last_position,
                  note.applied, streams)
        )  # fmt: skip
        try:
            peers = self._peers.current()
        except FileNotFoundError:  # removed under us (temporary directory cleaned)
            return
        for peer in peers:
            try:
                self._sock.sendto(data, peer)
            except (ConnectionRefusedError, FileNotFoundError):
                Path(peer).unlink(missing_ok=True)  # its process is gone
            except (BlockingIOError, PermissionError, OSError) as e:
                log.debug("commit note to %s dropped: %s", peer, e)

    def close(self) -> None:
        self._sock.close()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, on_note: Listener) -> None:
        self.on_note = on_note

    def datagram_received(self, data: bytes, addr: object) -> None:
        try:
            n = msgspec.msgpack.decode(data, type=_Note)
        except msgspec.DecodeError:
            log.warning("ignored a malformed commit note")
            return
        self.on_note(BatchCommitted(n.projection, n.batch, n.first, n.last, n.applied, n.streams))


class CommitReceiver:
    """A read process's side: calls ``on_note`` for each batch another process committed."""

    def __init__(self, transport: asyncio.DatagramTransport, path: Path) -> None:
        self._transport, self.path = transport, path

    @classmethod
    async def open(
        cls, read_dir: Path, on_note: Callable[[BatchCommitted], None]
    ) -> CommitReceiver:
        directory = commits_dir(read_dir)
        directory.mkdir(mode=0o700, exist_ok=True)
        path = directory / f"{os.getpid()}-{os.urandom(4).hex()}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))  # bound here: event loops differ in binding by path (uvloop)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(on_note), sock=sock)
        return cls(transport, path)

    def close(self) -> None:
        self._transport.close()
        self.path.unlink(missing_ok=True)
