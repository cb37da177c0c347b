"""A relay and a bus-fed runner stop even when the bus driver loses the stop.

nats-py can swallow a cancellation: a reply racing it makes ``asyncio.wait_for``
return the reply (Python 3.11), and a publish that must flush a full buffer
catches ``CancelledError`` outright. The task then carries on; if its next wait
is unbounded (the journal's next append, the next delivery) whoever awaits its
end waits forever. ``SwallowingBus`` loses the first stop at one chosen call,
as the driver would, and each test checks that the stop still ends the task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from pathlib import Path

import pytest
from kits.domain import CODEC, Noted, Notes, append
from kits.stopping import stops

from kiroku import MemoryJournal, ProjectionHost
from kiroku.bus import Relay
from kiroku.bus.memory import MemoryBus
from kiroku.bus.protocol import Checkpoint, Consumer, DeadLetterHandler, Delivery, Lease
from kiroku.bus.source import BusSource
from kiroku.domain.envelope import StoredEvent

BOUND = 10.0  # seconds: far beyond any stop that works; a hang fails here, not forever


class SwallowingBus:
    """The in-process bus, whose call named ``at`` loses the first stop it sees."""

    def __init__(self, at: str) -> None:
        self.memory = MemoryBus()
        self.url = self.memory.url
        self.leases = self.memory.leases
        self.at = at
        self.reached = asyncio.Event()
        self.swallowed = False

    async def call(self, name: str) -> None:
        """Where the driver waits for the server's reply: a stop here is lost once."""
        if name != self.at or self.swallowed:
            return
        self.reached.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.swallowed = True  # and return, as if the reply had come

    async def publish(self, events: Sequence[StoredEvent]) -> None:
        await self.memory.publish(events)

    async def send(self, events: Sequence[StoredEvent]) -> Awaitable[None]:
        acked = await self.memory.send(events)
        await self.call("send")
        return acked

    async def consumer(self, name: str, partitions: Sequence[int] | None = None) -> Consumer:
        return _Consumer(self, await self.memory.consumer(name, partitions))

    def lease(self, name: str, holder: str, ttl: float) -> Lease:
        return _Lease(self, self.memory.lease(name, holder, ttl))

    def checkpoint(self, name: str) -> Checkpoint:
        return _Checkpoint(self, self.memory.checkpoint(name))

    async def close(self) -> None:
        await self.memory.close()


class _Lease:
    def __init__(self, bus: SwallowingBus, lease: Lease) -> None:
        self.bus, self.lease, self.holder = bus, lease, lease.holder

    async def acquire(self) -> None:
        await self.lease.acquire()
        await self.bus.call("acquire")

    async def confirm(self) -> None:
        await self.lease.confirm()

    async def release(self) -> None:
        await self.bus.call("release")
        await self.lease.release()


class _Checkpoint:
    def __init__(self, bus: SwallowingBus, checkpoint: Checkpoint) -> None:
        self.bus, self.checkpoint = bus, checkpoint

    async def load(self) -> int:
        position = await self.checkpoint.load()
        await self.bus.call("load")
        return position

    async def save(self, position: int) -> None:
        await self.checkpoint.save(position)


class _Consumer:
    def __init__(self, bus: SwallowingBus, consumer: Consumer) -> None:
        self.bus, self.consumer, self.name = bus, consumer, consumer.name

    async def fetch(self, limit: int, timeout: float) -> list[Delivery]:  # noqa: ASYNC109 - a pull consumer's signature
        return [_Delivery(self.bus, d) for d in await self.consumer.fetch(limit, timeout)]

    async def pending(self) -> int:
        return await self.consumer.pending()

    async def dead_letters(self, handle: DeadLetterHandler) -> int:
        return await self.consumer.dead_letters(handle)

    async def close(self) -> None:
        await self.consumer.close()


class _Delivery:
    def __init__(self, bus: SwallowingBus, delivery: Delivery) -> None:
        self.bus, self.delivery = bus, delivery

    @property
    def event(self) -> StoredEvent:
        return self.delivery.event

    @property
    def attempt(self) -> int:
        return self.delivery.attempt

    async def ack(self) -> None:
        await self.delivery.ack()
        await self.bus.call("ack")

    async def nak(self, delay: float = 0.0) -> None:
        await self.delivery.nak(delay)


@pytest.mark.parametrize("at", ["acquire", "load", "send", "release"])
async def test_a_relay_stops_though_the_driver_swallowed_the_stop(at: str) -> None:
    journal, bus = MemoryJournal(), SwallowingBus(at)
    relay = Relay(journal, bus, lease_ttl=0.3 if at == "release" else 60.0)
    await relay.start()
    if at == "send":
        await append(journal, "board-1", Noted("one"))
    if at == "release":  # once it publishes, the lease is taken over: it lets go, to stand by
        published = await append(journal, "board-1", Noted("one"))
        await asyncio.wait_for(relay.wait_for(published), BOUND)
        bus.leases[relay.name] = "another relay"
    await asyncio.wait_for(bus.reached.wait(), BOUND)
    await stops(relay.stop(), "the relay", BOUND)
    assert bus.swallowed


async def test_a_bus_fed_runner_stops_though_an_ack_swallowed_the_stop(tmp_path: Path) -> None:
    journal, bus = MemoryJournal(), SwallowingBus("ack")
    host = ProjectionHost(journal, [Notes()], tmp_path, codec=CODEC)
    runner = host.runner(Notes.name)
    runner.source = BusSource(bus, Notes.name, fetch_timeout=0.05)
    async with Relay(journal, bus):
        await host.start()
        await append(journal, "board-1", Noted("one"), Noted("two"))
        await asyncio.wait_for(bus.reached.wait(), BOUND)
        await stops(runner.stop(), "the runner", BOUND)
        await host.close()
    assert bus.swallowed
    assert runner.position == 2  # the batch was committed before its acks
