"""Events and buses shared by the bus tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from nats_kit import unique

from kiroku import Codec, Journal, Recorded, Registry, event
from kiroku.bus.nats import NatsBus, NatsOptions
from kiroku.journal.protocol import ANY
from kiroku.projections import Projection, Tx, handles

REGISTRY = Registry()


@event("bus.Noted", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Noted:
    text: str


CODEC = Codec(REGISTRY)


class Notes(Projection):
    """Every note of a stream in order: a note applied twice shows as a repeated entry."""

    name = "bus.notes"
    delay = 0.0  # seconds per event, to make a kill land mid-batch

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow handler keeps the batch open
        notes = tx.collection("notes")
        doc = await notes.get(e.stream_id) or {"texts": []}
        texts = doc["texts"]
        assert isinstance(texts, list)
        await notes.put(e.stream_id, {"texts": [*texts, e.data.text], "version": e.version})


class Tally(Projection):
    """A document every stream's notes rewrite (``all``), read and written back with a
    pause between: two lanes committing it at once would lose one of the updates."""

    name = "bus.tally"

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        tally = tx.collection("tally")
        shared = await tally.get("all") or {"n": 0}
        await asyncio.sleep(0.002)  # the other lane's transaction, if it may, runs now
        count = shared["n"]
        assert isinstance(count, int)
        await tally.put("all", {"n": count + 1})


async def note(journal: Journal, stream: str, *texts: str) -> int:
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


async def read_model(data_dir: str, journal: Journal) -> dict[str, object]:
    """Every document of ``bus.notes`` as the serving store holds it."""
    from kiroku import ProjectionHost

    host = ProjectionHost(journal, [Notes()], data_dir, codec=CODEC)
    try:
        await host.runner("bus.notes").open()
        notes = host.reader("bus.notes").collection("notes")
        return {doc_id: await notes.get(doc_id) for doc_id in await notes.ids()}
    finally:
        await host.close()


async def load_notes(journal: Journal, count: int, streams: int = 10) -> int:
    """``count`` notes spread round-robin over ``streams`` streams; the last position."""
    last = 0
    for i in range(count):
        last = await note(journal, f"board-{i % streams}", f"n{i}")
    return last


def spawn_ready(script: str, args: list[str]) -> subprocess.Popen[str]:
    """``python script args`` beside this kit, once it printed "ready"."""
    here = Path(__file__).parent
    proc = subprocess.Popen(
        [sys.executable, str(here / script), *args],
        stdout=subprocess.PIPE, text=True, cwd=here,
        env={**os.environ, "PYTHONPATH": str(here)},
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc
