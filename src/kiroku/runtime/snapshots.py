"""Taking snapshots every N events, and the optional retention that follows them.

A snapshot is an optimisation: failing to take one must never fail the command
that triggered it, so errors here are logged and the next command tries again.
The snapshot's metadata carries the idempotency book, which is what lets a
retried command be recognised even after retention deleted its events.
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

from kiroku.domain.decider import Decider
from kiroku.domain.envelope import utc_now
from kiroku.journal.protocol import Journal, Snapshot
from kiroku.runtime.receipts import RECEIPTS_METADATA, ReceiptBook
from kiroku.runtime.settings import Settings
from kiroku.schema.codec import Codec

__all__ = ["Snapshotter"]

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
        self._last = 0  # the version of the newest snapshot we know of

    def recovered(self, snapshot_version: int) -> None:
        self._last = snapshot_version

    def due(self, version: int) -> bool:
        return self._every is not None and version - self._last >= self._every

    async def after_command(self, state: S, version: int, book: ReceiptBook[S, E]) -> None:
        if self.due(version):
            await self.take(state, version, book)

    async def take(self, state: S, version: int, book: ReceiptBook[S, E]) -> bool:
        """Save a snapshot (and apply retention); False, logged, if it failed."""
        try:
            snapshot = Snapshot(
                stream=self._stream,
                version=version,
                state_type=type(state).__qualname__,
                state_version=self._decider.state_version,
                data=self._codec.encode_state(self._decider.snapshot_of(state)),
                taken_at=utc_now(),
                metadata={RECEIPTS_METADATA: book.to_json()},
            )
            await self._journal.save_snapshot(snapshot)
        except Exception:
            log.exception("stream %s: snapshot at version %d failed", self._stream, version)
            self._last = version  # wait another N events rather than retry on every command
            return False
        self._last = version
        log.debug("stream %s: snapshot at version %d", self._stream, version)
        await self._retain(version)
        return True

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
