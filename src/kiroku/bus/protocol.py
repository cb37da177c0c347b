"""The message bus: what the relay publishes to and projection runners consume from.

A bus is at-least-once: a consumer may see an event twice or out of order, and
must never miss one. Consumers therefore keep per-stream versions (the runner
does) and acknowledge only after their read-model commit.

Pieces, each small so a backend (in-process, NATS JetStream, later Kafka) fills
in a few methods:
- ``Bus.publish(events)``: returns once the bus acknowledged every event (durable
  there); the event id is the dedupe key, so a republish is absorbed.
- ``Bus.consumer(name, partitions)``: a durable consumer that remembers what was
  acknowledged across restarts; ``fetch`` returns ``Delivery`` values to ``ack``
  or ``nak`` one by one.
- ``Lease``: one relay active at a time; ``confirm`` is the fence checked before
  every publish batch and checkpoint advance.
- ``Checkpoint``: the relay's own position, advanced only after the acks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from kiroku.domain.envelope import StoredEvent

__all__ = ["Bus", "Checkpoint", "Consumer", "DeadLetterHandler", "Delivery", "Lease"]

DeadLetterHandler = Callable[[StoredEvent, int], Awaitable[None]]
"""Told of an event the bus gave up on (delivered the maximum times without an ack)."""


@runtime_checkable
class Delivery(Protocol):
    """One delivered event; ``attempt`` counts deliveries of it to this consumer (1 = first)."""

    @property
    def event(self) -> StoredEvent: ...

    @property
    def attempt(self) -> int: ...

    async def ack(self) -> None: ...

    async def nak(self, delay: float = 0.0) -> None: ...


@runtime_checkable
class Consumer(Protocol):
    name: str

    async def fetch(self, limit: int, timeout: float) -> list[Delivery]:  # noqa: ASYNC109 - a pull consumer's fetch takes its expiry
        """Up to ``limit`` deliveries; ``[]`` if none came within ``timeout`` seconds."""
        ...

    async def pending(self) -> int:
        """Events the bus holds for this consumer: not yet delivered, or delivered and
        not acknowledged (a redelivery waiting out its backoff counts)."""
        ...

    async def dead_letters(self, handle: DeadLetterHandler) -> int:
        """Hand each event the bus stopped redelivering to ``handle`` (with its delivery
        count), forgetting it only once ``handle`` returned; returns how many."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Lease(Protocol):
    holder: str

    async def acquire(self) -> None:
        """Wait until this holder has the lease."""
        ...

    async def confirm(self) -> None:
        """Renew the lease; LeaseLostError if another holder took it meanwhile."""
        ...

    async def release(self) -> None: ...


@runtime_checkable
class Checkpoint(Protocol):
    async def load(self) -> int:
        """The last position whose publication was acknowledged (0 if none)."""
        ...

    async def save(self, position: int) -> None:
        """Advance; LeaseLostError if another relay advanced it since ``load``."""
        ...


@runtime_checkable
class Bus(Protocol):
    url: str

    async def publish(self, events: Sequence[StoredEvent]) -> None:
        """Publish in order; return once every event is acknowledged by the bus."""
        ...

    async def send(self, events: Sequence[StoredEvent]) -> Awaitable[None]:
        """Publish in order without waiting for the acks: returns what completes once
        every event is acknowledged (raising if any was not). The next ``send`` may
        follow at once and stays behind this one."""
        ...

    async def consumer(self, name: str, partitions: Sequence[int] | None = None) -> Consumer:
        """The durable consumer ``name`` (created if new), optionally for some partitions."""
        ...

    def lease(self, name: str, holder: str, ttl: float) -> Lease: ...

    def checkpoint(self, name: str) -> Checkpoint: ...

    async def close(self) -> None: ...
