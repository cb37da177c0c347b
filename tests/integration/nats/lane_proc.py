"""A projector process running one lane of ``bus.tally`` for the lanes test.

Usage: python lane_proc.py JOURNAL READ_STORE_DSN DATA_DIR NATS_URL STREAM PREFIX PARTITIONS
``PARTITIONS`` as ``--partitions`` takes them (``0-7``). Prints "ready" once its
runner follows the bus, then runs until killed.
"""

from __future__ import annotations

import asyncio
import sys

from bus_kit import CODEC, Tally

from kiroku import ProjectionHost
from kiroku.bus.nats import NatsBus, NatsOptions
from kiroku.bus.subjects import DEFAULT_PARTITIONS
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections.lanes import parse_partitions
from kiroku.projections.postgres import PostgresReadStores
from kiroku.roles.lanes import feed_from_bus


async def main(
    journal_path: str, dsn: str, data: str, url: str, stream: str, prefix: str, parts: str
) -> None:
    journal = await SQLiteJournal.open(journal_path)
    bus = await NatsBus.connect(url, NatsOptions(stream=stream, prefix=prefix))
    catalog = PostgresReadStores(dsn)
    host = ProjectionHost(journal, [Tally()], data, codec=CODEC, batch_size=20, catalog=catalog)
    feed_from_bus(host, bus, parse_partitions(parts, DEFAULT_PARTITIONS))
    await host.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:8]))
