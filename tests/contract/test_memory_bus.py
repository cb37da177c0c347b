"""The in-process bus keeps the bus contract (the NATS bus runs the same suite)."""

from collections.abc import AsyncIterator

import pytest

from kiroku.bus import MemoryBus
from kiroku.bus.protocol import Bus
from kiroku.testing.contracts.bus import BusContract


class TestMemoryBus(BusContract):
    @pytest.fixture
    async def bus(self) -> AsyncIterator[Bus]:
        bus = MemoryBus()
        yield bus
        await bus.close()
