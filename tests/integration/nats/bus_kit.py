"""Events and buses shared by the bus tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from nats_kit import unique

from kiroku import Codec, MemoryJournal, Registry, event
from kiroku.bus.nats import NatsBus, NatsOptions
from kiroku.journal.protocol import ANY

REGISTRY = Registry()


@event("bus.Noted", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Noted:
    text: str


CODEC = Codec(REGISTRY)


async def note(journal: MemoryJournal, stream: str, *texts: str) -> int:
    result = await journal.append(stream, ANY, CODEC.encode_all([Noted(t) for t in texts]))
    return result.position


def options(**overrides: object) -> NatsOptions:
    """A stream and subjects of this test's own on the shared server."""
    base = {"stream": unique("T"), "prefix": unique("t"), "lease_ttl": 1.5}
    base.update(overrides)
    return NatsOptions(**base)  # type: ignore[arg-type]


@asynccontextmanager
async def nats_bus(url: str, opts: NatsOptions) -> AsyncIterator[NatsBus]:
    bus = await NatsBus.connect(url, opts)
    try:
        yield bus
    finally:
        await bus.close()
