"""A projector process for the crash tests: ``bus.notes`` fed by the bus, until killed.

Usage: python projector_proc.py JOURNAL DATA_DIR NATS_URL STREAM PREFIX DELAY
Prints "ready" once its runner follows the bus.
"""

from __future__ import annotations

import asyncio
import sys

from bus_kit import CODEC, Notes

from kiroku import ProjectionHost
from kiroku.bus.nats import NatsBus, NatsOptions
from kiroku.bus.source import BusSource
from kiroku.journal.sqlite import SQLiteJournal


async def main(
    journal_path: str, data: str, url: str, stream: str, prefix: str, delay: str
) -> None:
    journal = await SQLiteJournal.open(journal_path)
    bus = await NatsBus.connect(
        url, NatsOptions(stream=stream, prefix=prefix, ack_wait=2.0, backoff=(1.0,))
    )
    notes = Notes()
    notes.delay = float(delay)
    host = ProjectionHost(journal, [notes], data, codec=CODEC, batch_size=50)
    runner = host.runner(notes.name)
    runner.source = BusSource(bus, notes.name, batch_size=50)
    await host.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
