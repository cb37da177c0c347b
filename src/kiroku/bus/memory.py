"""The in-process bus: the same interface as NATS JetStream, for one process.

It keeps what a durable consumer needs (an acknowledged set per consumer,
redelivery of what was not acknowledged) so code and tests written against it
behave the same on a real bus. It dedupes by event id like JetStream's
``Nats-Msg-Id`` window (here: forever, for the life of the process).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

from kiroku.bus.errors import LeaseLostError
from kiroku.bus.protocol import DeadLetterHandler, Delivery
from kiroku.bus.subjects import DEFAULT_PARTITIONS, partition_of
from kiroku.domain.envelope import StoredEvent

__all__ = ["MemoryBus"]


@dataclass(slots=True)
class _State:
    """A durable consumer's memory: survives ``close`` and a new ``consumer(name)``."""

    partitions: frozenset[int] | None
    cursor: int = 0
    unacked: dict[int, int] = field(default_factory=dict)  # log index -> deliveries
    redeliver: deque[int] = field(default_factory=deque)


@dataclass(slots=True)
class _MemoryDelivery:
    event: StoredEvent
    attempt: int
    index: int
    state: _State
    bus: MemoryBus

    async def ack(self) -> None:
        self.state.unacked.pop(self.index, None)

    async def nak(self, delay: float = 0.0) -> None:
        if self.index in self.state.unacked:
            self.state.redeliver.append(self.index)
            self.bus.wake()


class _MemoryConsumer:
    def __init__(self, name: str, bus: MemoryBus, state: _State) -> None:
        self.name = name
        self.bus = bus
        self.state = state

    async def fetch(self, limit: int, timeout: float) -> list[Delivery]:  # noqa: ASYNC109 - same signature as a pull consumer
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    found = self._take(limit)
                    if found:
                        return found
                    await self.bus.grown()
        return []

    def _take(self, limit: int) -> list[Delivery]:
        state, out = self.state, list[Delivery]()
        while state.redeliver and len(out) < limit:
            index = state.redeliver.popleft()
            if index in state.unacked:
                out.append(self._deliver(index))
        log = self.bus.log
        while state.cursor < len(log) and len(out) < limit:
            index, state.cursor = state.cursor, state.cursor + 1
            if self.bus.wanted(log[index], state.partitions):
                out.append(self._deliver(index))
        return out

    def _deliver(self, index: int) -> Delivery:
        attempt = self.state.unacked.get(index, 0) + 1
        self.state.unacked[index] = attempt
        return _MemoryDelivery(self.bus.log[index], attempt, index, self.state, self.bus)

    async def pending(self) -> int:
        state, log = self.state, self.bus.log
        waiting = sum(1 for e in log[state.cursor :] if self.bus.wanted(e, state.partitions))
        return waiting + len(state.unacked)

    async def dead_letters(self, handle: DeadLetterHandler) -> int:
        return 0  # redelivers without limit: nothing is ever given up on

    async def close(self) -> None:
        self.state.redeliver.extend(sorted(self.state.unacked))


class _MemoryLease:
    def __init__(self, bus: MemoryBus, name: str, holder: str) -> None:
        self.bus, self.name, self.holder = bus, name, holder

    async def acquire(self) -> None:
        while self.bus.leases.setdefault(self.name, self.holder) != self.holder:
            await self.bus.grown()

    async def confirm(self) -> None:
        held = self.bus.leases.get(self.name)
        if held != self.holder:
            raise LeaseLostError(self.name, self.holder, f"held by {held}")

    async def release(self) -> None:
        if self.bus.leases.get(self.name) == self.holder:
            del self.bus.leases[self.name]
            self.bus.wake()


class _MemoryCheckpoint:
    """Compare-and-swap like the NATS one: a save fails if another saved since ``load``."""

    def __init__(self, bus: MemoryBus, name: str) -> None:
        self.bus, self.name = bus, name
        self.seen = 0

    async def load(self) -> int:
        self.seen = self.bus.checkpoints.get(self.name, 0)
        return self.seen

    async def save(self, position: int) -> None:
        if self.bus.checkpoints.get(self.name, 0) != self.seen:
            raise LeaseLostError(self.name, "this relay", "checkpoint moved by another")
        self.bus.checkpoints[self.name] = self.seen = position


class MemoryBus:
    """One process's bus; ``partitions`` only decides which consumer takes what."""

    def __init__(self, partitions: int = DEFAULT_PARTITIONS) -> None:
        self.url = "memory"
        self.partitions = partitions
        self.log: list[StoredEvent] = []
        self.leases: dict[str, str] = {}
        self.checkpoints: dict[str, int] = {}
        self._ids: set[uuid.UUID] = set()
        self._states: dict[tuple[str, frozenset[int] | None], _State] = {}
        self._grew = asyncio.Event()

    async def publish(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            if event.event_id not in self._ids:
                self._ids.add(event.event_id)
                self.log.append(event)
        self.wake()

    async def send(self, events: Sequence[StoredEvent]) -> Awaitable[None]:
        await self.publish(events)
        return _done()

    async def consumer(self, name: str, partitions: Sequence[int] | None = None) -> _MemoryConsumer:
        wanted = frozenset(partitions) if partitions is not None else None
        state = self._states.get((name, wanted))  # a durable per name and partition set
        if state is None:
            state = self._states[name, wanted] = _State(wanted)
        else:
            state.redeliver = deque(sorted(state.unacked))  # a restarted consumer: redeliver
        return _MemoryConsumer(name, self, state)

    def wanted(self, event: StoredEvent, partitions: frozenset[int] | None) -> bool:
        return partitions is None or partition_of(event.stream_id, self.partitions) in partitions

    def lease(self, name: str, holder: str, ttl: float) -> _MemoryLease:
        return _MemoryLease(self, name, holder)

    def checkpoint(self, name: str) -> _MemoryCheckpoint:
        return _MemoryCheckpoint(self, name)

    def wake(self) -> None:
        self._grew.set()
        self._grew = asyncio.Event()

    async def grown(self) -> None:
        await self._grew.wait()

    async def close(self) -> None:
        self.wake()


async def _done() -> None:
    return None
