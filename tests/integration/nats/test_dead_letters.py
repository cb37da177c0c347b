"""An event JetStream stopped redelivering (MaxDeliver) lands in the projection's parked
list with the reason, its stream held behind it: never skipped unseen."""

from __future__ import annotations

from pathlib import Path

import nats_kit
import pytest
from bus_kit import CODEC, Notes, nats_bus, note, options

from kiroku import MemoryJournal, ProjectionHost
from kiroku.domain.envelope import StoredEvent
from kiroku.roles.deadletter import parker

pytestmark = pytest.mark.nats
nats_url = nats_kit.nats_url


async def test_max_deliveries_are_parked_with_the_reason(nats_url: str, tmp_path: Path) -> None:
    journal = MemoryJournal()
    await note(journal, "board-1", "poison")
    opts = options(max_deliver=2, backoff=(0.3,), ack_wait=0.3)
    async with nats_bus(nats_url, opts) as bus:
        await bus.publish(await journal.read_all(0, 10))
        consumer = await bus.consumer("bus.notes")
        for attempt in (1, 2):  # delivered, never acknowledged (a projector dying on it)
            got = await consumer.fetch(10, 2.0)
            assert [d.attempt for d in got] == [attempt]
        host = ProjectionHost(journal, [Notes()], tmp_path, codec=CODEC)
        runner = host.runner("bus.notes")
        await runner.open()
        park = parker(runner)
        seen: list[tuple[StoredEvent, int]] = []

        async def handle(event: StoredEvent, deliveries: int) -> None:
            seen.append((event, deliveries))
            await park(event, deliveries)

        for _ in range(50):  # the server gives up on it when next asked for messages
            assert await consumer.fetch(10, 0.2) == []
            if await consumer.dead_letters(handle):
                break
        assert [(e.position, n) for e, n in seen] == [(1, 2)]
        parked = host.parked("bus.notes")
        assert [(p.position, p.stream) for p in parked] == [(1, "board-1")]
        assert "MaxDeliver" in parked[0].error
        assert await consumer.dead_letters(handle) == 0  # acknowledged: handed on once
        await consumer.close()
        await host.close()
