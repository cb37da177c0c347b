"""A pull request whose idle heartbeat is more than half its expiry is refused by the
server ("heartbeat value too large"). nats-py sends such a request when it re-asks with
what is left of a fetch's timeout; the consumer treats that refusal as an empty fetch and
keeps its subscription, which this checks is sound: it delivers on the next fetch."""

from __future__ import annotations

import nats.js.errors
import nats_kit
import pytest
from bus_kit import nats_bus, note, options

from kiroku import MemoryJournal
from kiroku.bus.nats.consumer import refused_heartbeat

pytestmark = pytest.mark.nats
nats_url = nats_kit.nats_url


async def test_a_refused_heartbeat_leaves_the_subscription_delivering(nats_url: str) -> None:
    journal = MemoryJournal()
    await note(journal, "board-1", "kept")
    async with nats_bus(nats_url, options()) as bus:
        await bus.publish(await journal.read_all(0, 10))
        config = bus.consumer_config("hb", None)
        await bus.js.add_consumer(bus.options.stream, config)
        sub = await bus.js.pull_subscribe_bind("hb", stream=bus.options.stream)
        with pytest.raises(nats.js.errors.APIError) as refused:
            await sub.fetch(1, timeout=1.0, heartbeat=0.9)
        assert refused_heartbeat(refused.value)
        assert not refused_heartbeat(nats.js.errors.APIError(code=400, description="other"))
        got = await sub.fetch(1, timeout=2.0, heartbeat=0.5)
        assert [m.metadata.num_delivered for m in got] == [1]
        await sub.unsubscribe()
