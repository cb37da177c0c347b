"""What every message bus promises the relay and the projection runners.

A backend subclasses ``BusContract`` and provides a ``bus`` fixture (a fresh,
empty bus, closed after the test)::

    class TestMemoryBus(BusContract):
        @pytest.fixture
        async def bus(self) -> AsyncIterator[Bus]:
            yield MemoryBus()

The promises are the ones the rest of kiroku leans on: publication in order,
deduplicated by event id (a relay's republish is absorbed); durable consumers
that redeliver what was not acknowledged, independently of each other; one
lease holder at a time, with a fence (``confirm``) the old holder trips over;
a relay checkpoint that only moves by compare-and-swap. Redelivery may take a
backend's ack-wait, so the checks wait (bounded) rather than expect it at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from kiroku.bus.errors import LeaseLostError
from kiroku.bus.protocol import Bus, Consumer, Delivery
from kiroku.domain.envelope import StoredEvent, utc_now

__all__ = ["BusContract", "stored"]

PATIENCE = 15.0
"""Seconds a check waits for a delivery or a redelivery before it fails."""


def stored(first_position: int, count: int, stream: str = "board-1") -> list[StoredEvent]:
    """``count`` events of ``stream`` as a journal would have stored them."""
    return [
        StoredEvent(
            position=first_position + i,
            stream=stream,
            version=first_position + i,
            type="contract.Noted",
            schema_version=1,
            data=b'{"n":%d}' % i,
            event_id=uuid.uuid4(),
            occurred_at=utc_now(),
            correlation_id=None,
            causation_id=None,
            metadata={},
        )
        for i in range(count)
    ]


async def _positions(consumer: Consumer, want: int, *, ack: bool) -> list[Delivery]:
    """Fetch until ``want`` deliveries came (or PATIENCE ran out), acking if asked."""
    got: list[Delivery] = []
    async with asyncio.timeout(PATIENCE):
        while len(got) < want:
            batch = await consumer.fetch(want - len(got), 1.0)
            for delivery in batch:
                if ack:
                    await delivery.ack()
            got.extend(batch)
    return got


def _of(deliveries: Sequence[Delivery]) -> list[int]:
    return [d.event.position for d in deliveries]


class BusContract:
    """Subclass with a ``bus`` fixture; every test starts from an empty bus."""

    async def test_a_consumer_gets_every_event_once_in_order(self, bus: Bus) -> None:
        events = stored(1, 7)
        await bus.publish(events[:3])
        await (await bus.send(events[3:]))  # the acks of an unawaited send, awaited after
        consumer = await bus.consumer("contract-reader")
        got = await _positions(consumer, 7, ack=True)
        assert _of(got) == [1, 2, 3, 4, 5, 6, 7]
        assert [d.attempt for d in got] == [1] * 7
        assert [d.event.event_id for d in got] == [e.event_id for e in events]
        assert await consumer.fetch(10, 0.5) == []
        await consumer.close()

    async def test_a_republish_is_absorbed(self, bus: Bus) -> None:
        events = stored(1, 4)
        await bus.publish(events)
        await bus.publish(events[1:])  # a relay killed before its checkpoint sends them again
        consumer = await bus.consumer("contract-dedupe")
        assert _of(await _positions(consumer, 4, ack=True)) == [1, 2, 3, 4]
        assert await consumer.fetch(10, 0.5) == []
        await consumer.close()

    async def test_what_was_not_acknowledged_comes_again(self, bus: Bus) -> None:
        await bus.publish(stored(1, 4))
        consumer = await bus.consumer("contract-durable")
        first = await _positions(consumer, 4, ack=False)
        for delivery in first[:2]:
            await delivery.ack()
        await first[2].nak()
        await consumer.close()  # and the fourth was neither acked nor nakked
        again = await bus.consumer("contract-durable")
        redelivered = await _positions(again, 2, ack=True)
        assert sorted(_of(redelivered)) == [3, 4]
        assert all(d.attempt >= 2 for d in redelivered)
        assert await again.fetch(10, 0.5) == []
        await again.close()

    async def test_consumers_are_independent(self, bus: Bus) -> None:
        await bus.publish(stored(1, 3))
        one, two = await bus.consumer("contract-one"), await bus.consumer("contract-two")
        assert _of(await _positions(one, 3, ack=True)) == [1, 2, 3]
        assert _of(await _positions(two, 3, ack=True)) == [1, 2, 3]
        await one.close()
        await two.close()

    async def test_one_lease_holder_and_the_old_one_is_fenced(self, bus: Bus) -> None:
        first = bus.lease("contract-relay", "first", ttl=2.0)
        second = bus.lease("contract-relay", "second", ttl=2.0)
        await first.acquire()
        await first.confirm()
        waiting = asyncio.ensure_future(second.acquire())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the first still holds it
        await first.release()
        await asyncio.wait_for(waiting, PATIENCE)
        await second.confirm()
        with pytest.raises(LeaseLostError):
            await first.confirm()  # a paused holder waking up is fenced off
        await second.release()

    async def test_the_checkpoint_moves_only_by_compare_and_swap(self, bus: Bus) -> None:
        mine, theirs = bus.checkpoint("contract-cp"), bus.checkpoint("contract-cp")
        assert await mine.load() == 0
        assert await theirs.load() == 0
        await mine.save(5)
        await mine.save(9)  # its own saves follow on
        assert await bus.checkpoint("contract-cp").load() == 9
        with pytest.raises(LeaseLostError):
            await theirs.save(7)  # it loaded before mine moved it
        assert await theirs.load() == 9
        await theirs.save(12)
        assert await bus.checkpoint("contract-cp").load() == 12
