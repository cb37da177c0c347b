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
every batch before it: reading and sending run ahead of the acks by up to
``in_flight`` batches, in order, while a second task awaits the oldest batch's
acks and then moves the checkpoint): a relay killed between publish and
checkpoint republishes from the last checkpoint, and the duplicates are
absorbed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from asyncio import FIRST_EXCEPTION
from dataclasses import dataclass

from kiroku.bus.cancel import recancel
from kiroku.bus.errors import BusError, LeaseLostError
from kiroku.bus.protocol import Bus, Checkpoint, Lease
from kiroku.domain.closing import cancelled
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


@dataclass(frozen=True, slots=True)
class _Sent:
    position: int
    count: int
    acked: asyncio.Future[None]


def _drained(queue: asyncio.Queue[_Sent | None]) -> list[_Sent | None]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


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
        in_flight: int = 8,
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
            recancel()  # a stop the release below swallowed: not another round
            lease = self.bus.lease(self.name, self.holder, self.lease_ttl)
            try:
                await lease.acquire()
                recancel()  # else the tasks below run on, holding the lease
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
        """Two tasks joined by a queue of ``in_flight`` sent batches: one reads the
        journal and sends, the other awaits each batch's acks in order and moves the
        checkpoint over it. Neither waits for the other's round trips to the bus."""
        self.position = await checkpoint.load()
        recancel()  # else this task waits on the two below, which were never told to stop
        self.active, self.error = True, None
        sent: asyncio.Queue[_Sent | None] = asyncio.Queue(self.in_flight)
        sender = asyncio.create_task(self._send(lease, sent), name=f"relay send {self.name}")
        saver = asyncio.create_task(self._checkpoints(lease, checkpoint, sent))
        try:
            done, _ = await asyncio.wait({sender, saver}, return_when=FIRST_EXCEPTION)
            for task in done:
                task.result()
            await saver  # the journal was closed: checkpoint what was sent
        finally:
            for task in (sender, saver):
                task.cancel()
            left = [item.acked for item in _drained(sent) if item is not None]
            for acked in left:
                acked.cancel()
            await asyncio.gather(sender, saver, *left, return_exceptions=True)

    async def _send(self, lease: Lease, sent: asyncio.Queue[_Sent | None]) -> None:
        async for batch in self.journal.subscribe(self.position, self.batch_size):
            recancel()
            await lease.confirm()  # the fence: at most this batch after a lost lease
            recancel()
            acked = asyncio.ensure_future(await self.bus.send(batch))
            try:
                recancel()  # a publish that flushed may swallow a stop: the next append is far
                await sent.put(_Sent(batch[-1].position, len(batch), acked))
            except BaseException:
                acked.cancel()
                raise
        await sent.put(None)

    async def _checkpoints(
        self, lease: Lease, checkpoint: Checkpoint, sent: asyncio.Queue[_Sent | None]
    ) -> None:
        while (item := await sent.get()) is not None:
            try:
                await item.acked
            finally:
                item.acked.cancel()  # when this task is cancelled while awaiting it
            await lease.confirm()
            await checkpoint.save(item.position)
            recancel()  # else a stop swallowed by the driver leaves this task on ``get``
            self.position = item.position
            self.published += item.count
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
        await cancelled(task)

    async def __aenter__(self) -> Relay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _transient(error: Exception) -> bool:
    """Bus and connection failures are retried from the checkpoint; bugs are not."""
    module = type(error).__module__
    return isinstance(error, BusError) or module.startswith("nats")
