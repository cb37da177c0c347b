"""Taking snapshots every N events, and the optional retention that follows them.

A snapshot is an optimisation: failing to take one must never fail the command
that triggered it, so errors here are logged and the next command tries again.
The snapshot's metadata carries the idempotency book, which is what lets a
retried command be recognised even after retention deleted its events.

Two things keep a big aggregate's snapshots from stalling it. The interval
grows with the history a snapshot already covers (at least a tenth of it), so
encoding a state of n items costs O(1) per event however large n gets, and
recovery replays at most ~10% past the snapshot. And the actor does not wait
for the encode, the write and the retention: it captures the state (immutable)
and the idempotency book, and goes on with its mailbox while a task encodes
them on a worker thread and saves them; one snapshot is in flight at a time,
and recovery waits for it first. (A decider whose state shares storage with
its successors, like the chat room's, must make ``snapshot_of`` safe for that.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Generic, TypeVar

from kiroku.domain.decider import Decider
from kiroku.domain.envelope import Metadata, utc_now
from kiroku.journal.protocol import Journal, Snapshot
from kiroku.runtime.receipts import RECEIPTS_METADATA, ReceiptBook
from kiroku.runtime.settings import Settings
from kiroku.schema.codec import Codec

__all__ = ["GROWTH", "Snapshotter"]

GROWTH = 10
"""The interval is at least 1/GROWTH of the version of the newest snapshot."""

log = logging.getLogger(__name__)

S = TypeVar("S")
C = TypeVar("C")
E = TypeVar("E")


class Snapshotter(Generic[S, C, E]):
    def __init__(
        self,
        journal: Journal,
        codec: Codec,
        decider: Decider[S, C, E],
        stream: str,
        settings: Settings,
    ) -> None:
        self._journal = journal
        self._codec = codec
        self._decider = decider
        self._stream = stream
        self._every = settings.snapshot_every
        self._retention = settings.retention
        self._last = 0  # the version of the newest snapshot taken or asked for
        self._next: tuple[S, int, Metadata] | None = None
        self._saving: asyncio.Task[None] | None = None

    def recovered(self, snapshot_version: int) -> None:
        self._last = snapshot_version

    def due(self, version: int) -> bool:
        last = self._last
        return self._every is not None and version - last >= max(self._every, last // GROWTH)

    def start(self, state: S, version: int, book: ReceiptBook[S, E]) -> None:
        """Save a snapshot of ``state`` (and apply retention) without waiting for it.

        If one is still being saved, this one follows it (replacing any other
        that was waiting): snapshots are written in order, one at a time.
        """
        self._last = version
        self._next = (state, version, {RECEIPTS_METADATA: book.to_json()})
        if self._saving is None:
            self._saving = asyncio.get_running_loop().create_task(
                self._drain(), name=f"snapshots of {self._stream}"
            )

    async def _drain(self) -> None:
        try:
            while self._next is not None:
                state, version, metadata = self._next
                self._next = None
                await self._save(state, version, metadata)
        finally:
            self._saving = None

    async def settled(self) -> None:
        """Wait for the snapshots in flight, if any (before recovery reads the journal)."""
        while self._saving is not None:
            await asyncio.shield(self._saving)

    def cancel(self) -> None:
        self._next = None
        if self._saving is not None:
            self._saving.cancel()

    async def take(self, state: S, version: int, book: ReceiptBook[S, E]) -> bool:
        """Save a snapshot (and apply retention) now; False, logged, if it failed."""
        self._last = version
        return await self._save(state, version, {RECEIPTS_METADATA: book.to_json()})

    async def _save(self, state: S, version: int, metadata: Metadata) -> bool:
        try:
            snapshot = Snapshot(
                stream=self._stream,
                version=version,
                state_type=type(state).__qualname__,
                state_version=self._decider.state_version,
                data=await asyncio.to_thread(self._encode, state),
                taken_at=utc_now(),
                metadata=metadata,
            )
            await self._journal.save_snapshot(snapshot)
        except Exception:
            # _last already moved on: wait another N events rather than retry on every command
            log.exception("stream %s: snapshot at version %d failed", self._stream, version)
            return False
        log.debug("stream %s: snapshot at version %d", self._stream, version)
        await self._retain(version)
        return True

    def _encode(self, state: S) -> bytes:
        """On a worker thread: the state is immutable, and the loop goes on meanwhile."""
        return self._codec.encode_state(self._decider.snapshot_of(state))

    async def _retain(self, version: int) -> None:
        if self._retention is None:
            return
        before = self._retention.delete_before(version)
        try:
            deleted = await self._journal.delete_before(self._stream, before)
        except Exception:
            log.exception("stream %s: retention (delete before %d) failed", self._stream, before)
            return
        if deleted:
            log.info(
                "stream %s: retention deleted %d events before version %d",
                self._stream,
                deleted,
                before,
            )
