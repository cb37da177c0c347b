"""The relay's lease and checkpoint in NATS KV, both by compare-and-swap.

The lease is a key in a bucket whose entries expire after the lease's TTL (the
server's clock, so machines' clocks need not agree). ``acquire`` creates the key
(only possible when absent or expired), ``confirm`` updates it against the
revision this holder last wrote: if anyone else wrote in between, the update is
refused and the holder learns it lost. The checkpoint is updated the same way,
so a relay that lost its lease cannot move the checkpoint either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import nats.js.errors as jse
from nats.js.kv import KeyValue

from kiroku.bus.cancel import recancel
from kiroku.bus.errors import LeaseLostError

__all__ = ["NatsCheckpoint", "NatsLease"]

log = logging.getLogger("kiroku.bus.nats")
Bucket = Callable[[], Awaitable[KeyValue]]
"""Opens (creating if needed) the KV bucket: the lease and checkpoint are made
synchronously, the bucket on first use."""


class NatsLease:
    def __init__(self, bucket: Bucket, name: str, holder: str, ttl: float) -> None:
        self.bucket, self.name, self.holder, self.ttl = bucket, name, holder, ttl
        self.revision = 0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        while True:
            try:
                self.revision = await (await self.bucket()).create(self.name, self.holder.encode())
                return
            except jse.KeyWrongLastSequenceError:
                if await self._adopt():
                    return
            recancel()
            await asyncio.sleep(self.ttl / 5)

    async def _adopt(self) -> bool:
        """The key is there: ours from before (re-entering after a checkpoint conflict)?"""
        try:
            entry = await (await self.bucket()).get(self.name)
        except jse.KeyNotFoundError:
            return False
        if entry.value == self.holder.encode() and entry.revision is not None:
            self.revision = entry.revision
            return True
        return False

    async def confirm(self) -> None:
        async with self._lock:
            try:
                self.revision = await (await self.bucket()).update(
                    self.name, self.holder.encode(), last=self.revision
                )
            except jse.KeyWrongLastSequenceError as e:
                raise LeaseLostError(self.name, self.holder, "taken over") from e

    async def release(self) -> None:
        async with self._lock:
            with contextlib.suppress(jse.KeyWrongLastSequenceError):  # not ours: nothing to give
                await (await self.bucket()).delete(self.name, last=self.revision)


class NatsCheckpoint:
    def __init__(self, bucket: Bucket, name: str) -> None:
        self.bucket, self.name = bucket, name
        self.revision = 0

    async def load(self) -> int:
        try:
            entry = await (await self.bucket()).get(self.name)
        except jse.KeyNotFoundError:
            self.revision = 0
            return 0
        self.revision = entry.revision or 0
        return int(entry.value or b"0")

    async def save(self, position: int) -> None:
        value = str(position).encode()
        try:
            if self.revision == 0:
                self.revision = await (await self.bucket()).create(self.name, value)
            else:
                kv = await self.bucket()
                self.revision = await kv.update(self.name, value, last=self.revision)
        except jse.KeyWrongLastSequenceError as e:
            raise LeaseLostError(self.name, "this relay", "checkpoint moved by another") from e
