"""The NATS JetStream bus keeps the bus contract, on a real server."""

from collections.abc import AsyncIterator

import nats_kit
import pytest
from bus_kit import nats_bus, options

from kiroku.bus.protocol import Bus
from kiroku.testing.contracts.bus import BusContract

pytestmark = pytest.mark.nats
nats_url = nats_kit.nats_url  # the session's server


class TestNatsBus(BusContract):
    @pytest.fixture
    async def bus(self, nats_url: str) -> AsyncIterator[Bus]:
        # a short ack wait: what was neither acked nor nakked comes again within the test
        async with nats_bus(nats_url, options(ack_wait=1.0, backoff=())) as bus:
            yield bus
