"""One bus-fed projector process for ``benchmarks.distributed_bus``.

    python -m benchmarks.bus_projector DSN NATS_URL STREAM PREFIX DIRECTORY PARTITIONS STORE

The read store is on PostgreSQL (``DSN``, schemas named after ``STORE``), shared
by every process of a run as in production. ``PARTITIONS`` is ``all`` (one
durable consumer over every partition) or a comma-separated list: a lane, as
``kiroku serve --role projector --partitions`` runs it, beside a second process
taking the other half. Prints ``ready`` once the runner follows the bus, then
one line per committed batch, written by the runner's commit listener (so the
parent learns of each read-model commit as it happens, not by polling):

    b <last position> <applied> <perf_counter at commit> <process CPU s> <fetched at>

``perf_counter`` is CLOCK_MONOTONIC on Linux, shared by every process, so the
parent compares it with the time it appended.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from kiroku import Codec, ProjectionHost, Recorded, Registry, event
from kiroku.bus.nats import NatsBus, NatsOptions
from kiroku.bus.source import BusSource
from kiroku.domain.envelope import StoredEvent
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.projections import Projection, Tx, handles
from kiroku.projections.lanes import Lane
from kiroku.projections.model import BatchCommitted
from kiroku.projections.postgres import PostgresReadStores
from kiroku.roles.lanes import LANE_FETCH_TIMEOUT

__all__ = ["CODEC", "Counted", "Totals", "spawn_args"]

REGISTRY = Registry()


@event("bench.Counted", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Counted:
    n: int


CODEC = Codec(REGISTRY)


class Totals(Projection):
    name = "bench.totals"
    partition_local = True  # a document per stream

    @handles(Counted)
    async def counted(self, tx: Tx, e: Recorded[Counted]) -> None:
        await tx.collection("totals").put(e.stream_id, {"last": e.data.n})


def spawn_args(
    dsn: str,
    url: str,
    options: NatsOptions,
    directory: str,
    partitions: Sequence[int] | None,
    store: str,
) -> list[str]:
    parts = "all" if partitions is None else ",".join(str(p) for p in partitions)
    return [sys.executable, "-m", "benchmarks.bus_projector", dsn, url, options.stream,
            options.prefix, directory, parts, store]  # fmt: skip


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class TimedSource(BusSource):
    """Notes when the last batch came off the bus (to split the lag into its parts)."""

    fetched = 0.0

    async def batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        async for batch in super().batches(after):
            TimedSource.fetched = time.perf_counter()
            yield batch


def report(note: BatchCommitted) -> None:
    now, fetched = time.perf_counter(), TimedSource.fetched
    sys.stdout.write(
        f"b {note.last_position} {note.applied} {now:.6f} {cpu_seconds():.4f} {fetched:.6f}\n"
    )
    sys.stdout.flush()


async def main(
    dsn: str, url: str, stream: str, prefix: str, directory: str, parts: str, store: str
) -> None:
    partitions = None if parts == "all" else [int(p) for p in parts.split(",")]
    journal = await PostgreSQLJournal.open(dsn, create=False)
    bus = await NatsBus.connect(url, NatsOptions(stream=stream, prefix=prefix))
    stores = PostgresReadStores(dsn, prefix=store)
    host = ProjectionHost(
        journal, [Totals()], directory, codec=CODEC, batch_size=1000, catalog=stores
    )
    runner = host.runner(Totals.name)
    relay = bus.checkpoint("relay")
    runner.source = TimedSource(
        bus,
        Totals.name,
        partitions=partitions,
        batch_size=1000,
        fetch_timeout=LANE_FETCH_TIMEOUT,
        watermark=relay.load if partitions else None,
        on_idle=runner.mark_idle if partitions else None,
    )
    if partitions:
        runner.lane = Lane(tuple(partitions))
    runner.listeners.append(report)
    await host.start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await host.close()
        await bus.close()
        await journal.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:8]))
