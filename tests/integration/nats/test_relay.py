"""The relay on a real JetStream: order, dedupe, checkpoint after acks, one relay at a time."""

from __future__ import annotations

import asyncio

import nats_kit
import pytest
from bus_kit import nats_bus, note, options

from kiroku import MemoryJournal
from kiroku.bus import BusUnavailableError, MemoryBus, Relay
from kiroku.bus.nats import NatsBus
from kiroku.domain.envelope import StoredEvent

pytestmark = pytest.mark.nats
nats_url = nats_kit.nats_url


async def drain(bus: NatsBus, name: str, want: int) -> list[StoredEvent]:
    consumer = await bus.consumer(name)
    got: list[StoredEvent] = []
    for _ in range(50):
        for d in await consumer.fetch(500, 0.3):
            got.append(d.event)
            await d.ack()
        if len(got) >= want:
            break
    more = await consumer.fetch(500, 0.3)
    got.extend(d.event for d in more)
    await consumer.close()
    return got


async def test_relay_publishes_every_event_once_in_order(nats_url: str) -> None:
    journal = MemoryJournal()
    for i in range(30):
        await note(journal, f"board-{i % 7}", f"n{i}", f"m{i}")
    async with nats_bus(nats_url, options()) as bus:
        async with Relay(journal, bus, batch_size=7) as relay:
            await asyncio.wait_for(relay.wait_for(60), 10)
            assert await bus.checkpoint("relay").load() == 60
        got = await drain(bus, "reader", 60)
    assert [e.position for e in got] == list(range(1, 61))


async def test_a_relay_restarted_before_its_checkpoint_republishes_and_dupes_vanish(
    nats_url: str,
) -> None:
    journal = MemoryJournal()
    for i in range(20):
        await note(journal, f"board-{i}", "x")
    async with nats_bus(nats_url, options()) as bus:
        events = await journal.read_all(0, 100)
        await bus.publish(events[:15])  # published, then "killed" before the checkpoint
        assert await bus.checkpoint("relay").load() == 0
        async with Relay(journal, bus) as relay:
            await asyncio.wait_for(relay.wait_for(20), 10)
        got = await drain(bus, "reader", 20)
    assert [e.position for e in got] == list(range(1, 21))


async def test_one_relay_at_a_time_and_the_standby_takes_over(nats_url: str) -> None:
    journal = MemoryJournal()
    await note(journal, "board-1", "a")
    async with nats_bus(nats_url, options()) as bus:
        first = Relay(journal, bus, holder="first", lease_ttl=1.5)
        second = Relay(journal, bus, holder="second", lease_ttl=1.5)
        await first.start()
        await asyncio.wait_for(first.wait_for(1), 10)
        await second.start()
        await note(journal, "board-1", "b")
        await asyncio.wait_for(first.wait_for(2), 10)
        await asyncio.sleep(0.5)
        assert first.active
        assert not second.active
        await first.stop()  # it releases the lease: the standby starts at once
        await note(journal, "board-2", "c")
        await asyncio.wait_for(second.wait_for(3), 10)
        assert second.active
        assert second.published == 1
        await second.stop()


async def test_a_fenced_relay_stops_publishing(nats_url: str) -> None:
    """A relay whose lease was taken (it was paused past its TTL) learns so at its next
    batch and publishes nothing more; the new holder carries on from the checkpoint."""
    journal = MemoryJournal()
    await note(journal, "board-1", "a")
    async with nats_bus(nats_url, options()) as bus:
        old = Relay(journal, bus, holder="old", lease_ttl=1.5, retry_delay=30)
        await old.start()
        await asyncio.wait_for(old.wait_for(1), 10)
        lease = bus.lease("relay", "thief", 1.5)
        kv = await lease.bucket()
        await kv.put("relay", b"thief")  # the old relay's lease is gone
        await note(journal, "board-1", "b")
        await asyncio.sleep(1.0)
        assert not old.active
        assert old.position == 1
        assert "thief" not in (old.error or "")
        assert "relay" in (old.error or "")
        await old.stop()


async def test_memory_bus_keeps_the_same_contract() -> None:
    journal = MemoryJournal()
    for i in range(10):
        await note(journal, f"board-{i % 3}", "x")
    bus = MemoryBus()
    async with Relay(journal, bus, batch_size=3) as relay:
        await asyncio.wait_for(relay.wait_for(10), 5)
    consumer = await bus.consumer("reader")
    first = await consumer.fetch(4, 0.1)
    assert [d.event.position for d in first] == [1, 2, 3, 4]
    for d in first[:2]:
        await d.ack()
    await consumer.close()
    again = await (await bus.consumer("reader")).fetch(100, 0.1)
    assert [(d.event.position, d.attempt) for d in again][:2] == [(3, 2), (4, 2)]
    assert [d.event.position for d in again][2:] == list(range(5, 11))


async def test_unreachable_nats_is_a_clear_error() -> None:
    with pytest.raises(BusUnavailableError, match=r"nats://127\.0\.0\.1:1 "):
        await NatsBus.connect("nats://127.0.0.1:1")
