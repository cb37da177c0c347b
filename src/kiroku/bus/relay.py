"""The relay: follows the journal in order and publishes every event to the bus.

Exactly one relay publishes at a time. It holds a lease (``Bus.lease``), renews
it in the background, and confirms it (the fence) before every publish batch and
before every checkpoint advance; once it learns the lease is gone it stops
publishing and goes back to waiting as a standby. A relay that was paused past
its lease and wakes up therefore publishes at most the one batch it was in the
middle of, and those events carry the same ``Nats-Msg-Id`` (the event id) as the
new relay's, so the bus drops them inside its dedupe window, and consumers'
per-stream version checks absorb anything older.

The checkpoint is advanced only after the bus acknowledged the whole batch (and
every batch before it: up to ``in_flight`` batches are sent ahead, in order,
while the oldest awaits its acks): a relay killed between publish and
checkpoint republishes from the last checkpoint, and the duplicates are
absorbed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from asyncio import FIRST_COMPLETED
from collections import deque
from dataclasses import dataclass
from typing import Any

from kiroku.bus.cancel import recancel
from kiroku.bus.errors import BusError, LeaseLostError
from kiroku.bus.protocol import Bus, Checkpoint, Lease
from kiroku.domain.envelope import StoredEvent
from kiroku.journal.protocol import Journal

__all__ = ["Relay", "RelayStatus"]

log = logging.getLogger("kiroku.relay")


@dataclass(frozen=True, slots=True)
class RelayStatus:
    holder: str
    active: bool
    position: int
    published: int
    error: str | None


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Relay:
    """Journal -> bus. ``run`` until cancelled; ``async with`` runs it in the background."""

    def __init__(
        self,
        journal: Journal,
        bus: Bus,
        *,
        name: str = "relay",
        holder: str | None = None,
        lease_ttl: float = 5.0,
        batch_size: int = 1000,
        retry_delay: float = 0.5,
        in_flight: int = 4,
    ) -> None:
        self.journal = journal
        self.bus = bus
        self.name = name
        self.holder = holder or default_holder()
        self.lease_ttl = lease_ttl
        self.batch_size = batch_size
        self.retry_delay = retry_delay
        self.in_flight = in_flight
        self.active = False
        self.position = 0
        self.published = 0
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._advanced = asyncio.Event()

    async def run(self) -> None:
        """Wait for the lease, publish while holding it; on a lost lease or a bus
        failure, start over from the checkpoint (after a pause). Returns when the
        journal is closed."""
        while True:
            lease = self.bus.lease(self.name, self.holder, self.lease_ttl)
            try:
                await lease.acquire()
                log.info("relay %s holds the lease %s", self.holder, self.name)
                await self._while_held(lease)
                return  # the journal was closed
            except LeaseLostError as e:
                self.error = str(e)
                log.warning("%s; standing by", e)
            except (OSError, TimeoutError) as e:
                self.error = f"{type(e).__name__}: {e}"
                log.warning("relay %s: %s; retrying", self.holder, self.error)
            except Exception as e:
                if not _transient(e):
                    raise
                self.error = f"{type(e).__name__}: {e}"
                log.warning("relay %s: %s; retrying", self.holder, self.error)
            finally:
                self.active = False
                with contextlib.suppress(Exception):  # bounded: the bus may be down
                    async with asyncio.timeout(self.lease_ttl):
                        await lease.release()
            await asyncio.sleep(self.retry_delay)

    async def _while_held(self, lease: Lease) -> None:
        keeper = asyncio.create_task(self._keep(lease), name=f"lease keeper {self.name}")
        publisher = asyncio.create_task(self._publish(lease, self.bus.checkpoint(self.name)))
        try:
            done, _ = await asyncio.wait({keeper, publisher}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (keeper, publisher):
                task.cancel()
            await asyncio.gather(keeper, publisher, return_exceptions=True)

    async def _keep(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            await lease.confirm()
            recancel()

    async def _publish(self, lease: Lease, checkpoint: Checkpoint) -> None:
        """Send batches as the journal yields them, up to ``in_flight`` unacknowledged,
        and checkpoint each once it (and so every batch before it) is acknowledged."""
        self.position = await checkpoint.load()
        self.active, self.error = True, None
        stream = aiter(self.journal.subscribe(self.position, self.batch_size))
        pending: deque[tuple[int, int, asyncio.Task[None]]] = deque()
        reading: asyncio.Future[list[StoredEvent]] = asyncio.ensure_future(anext(stream))
        try:
            while True:
                recancel()
                if pending:
                    either: set[asyncio.Future[Any]] = {reading, pending[0][2]}
                    await asyncio.wait(either, return_when=FIRST_COMPLETED)
                    if pending[0][2].done() or len(pending) >= self.in_flight:
                        await self._advance(lease, checkpoint, pending.popleft())
                        continue
                try:
                    batch = await reading
                except StopAsyncIteration:
                    break
                reading = asyncio.ensure_future(anext(stream))
                await lease.confirm()
                acked = asyncio.ensure_future(await self.bus.send(batch))
                pending.append((batch[-1].position, len(batch), acked))
            while pending:
                await self._advance(lease, checkpoint, pending.popleft())
        finally:
            reading.cancel()
            for *_, task in pending:
                task.cancel()
            await asyncio.gather(reading, *(t for *_, t in pending), return_exceptions=True)

    async def _advance(
        self, lease: Lease, checkpoint: Checkpoint, sent: tuple[int, int, asyncio.Task[None]]
    ) -> None:
        position, count, acked = sent
        await acked
        await lease.confirm()
        await checkpoint.save(position)
        self.position = position
        self.published += count
        self._advanced.set()
        self._advanced = asyncio.Event()

    async def wait_for(self, position: int) -> None:
        """Until the relay's checkpoint reaches ``position`` (tests and benchmarks)."""
        while self.position < position:
            await self._advanced.wait()

    def status(self) -> RelayStatus:
        return RelayStatus(self.holder, self.active, self.position, self.published, self.error)

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"relay {self.holder}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Relay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _transient(error: Exception) -> bool:
    """Bus and connection failures are retried from the checkpoint; bugs are not."""
    module = type(error).__module__
    return isinstance(error, BusError) or module.startswith("nats")
