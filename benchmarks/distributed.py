"""Split across processes: appends per second on PostgreSQL.

    python -m benchmarks.distributed            # the full run recorded in RESULTS.md
    python -m benchmarks.distributed --quick    # a smoke run (seconds)

Workload: C concurrent callers (100 by default), each appending one event at a
time to its own stream with its expected version, until each has appended A
events. Contenders, in interleaved rounds, each on a fresh database:

- kiroku, group commit: ``PostgreSQLJournal`` as shipped (appends that arrive
  together share one transaction);
- kiroku, one transaction per append: the same journal with ``max_batch=1``
  and 20 writer connections;
- the eventsourcing library's PostgreSQL persistence
  (``PostgresApplicationRecorder.insert_events``, 20 pooled connections, one
  thread per caller), which serialises its inserts with a table lock.

The server is ``KIROKU_BENCH_POSTGRES_DSN`` when set, otherwise a throwaway
one started here with PostgreSQL's durable defaults (fsync and synchronous
commit on). Every contender's append returns only after its COMMIT.

Then, in the same run, the bus section (``benchmarks.distributed_bus``): relay
throughput into NATS JetStream, bus-fed projectors with 1 and 2 processes, and
the end-to-end lag from append to read model over NATS at 1,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from benchmarks.distributed_bus import run_bus
from kiroku.domain.envelope import NewEvent
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.testing.postgres import PostgresServer, find_binaries, start_server

__all__ = [
    "AppendRun",
    "append_section",
    "bench_server",
    "fresh_dsn",
    "run_eventsourcing",
    "run_kiroku",
]

DSN_VARIABLE = "KIROKU_BENCH_POSTGRES_DSN"


@dataclass(frozen=True, slots=True)
class AppendRun:
    name: str
    appends: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.appends / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@contextmanager
def bench_server() -> Iterator[PostgresServer]:
    if dsn := os.environ.get(DSN_VARIABLE):
        yield PostgresServer(dsn)
        return
    bin_dir = find_binaries()
    if bin_dir is None:
        raise SystemExit(f"no PostgreSQL binaries found and {DSN_VARIABLE} is unset")
    server = start_server(bin_dir, durable=True)
    try:
        yield server
    finally:
        server.stop()


def fresh_dsn(server: PostgresServer) -> str:
    name = f"kiroku_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.dsn_for(name)


def drop(server: PostgresServer, dsn: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(str(name))))


_DATA = b'{"amount":1,"note":"a typical small event body"}'


async def run_kiroku(
    dsn: str, name: str, callers: int, each: int, *, writers: int = 1, max_batch: int = 1000
) -> AppendRun:
    journal = await PostgreSQLJournal.open(dsn, writers=writers, max_batch=max_batch)
    latencies: list[float] = []

    async def caller(index: int) -> None:
        stream = f"bench-{index}"
        for version in range(each):
            start = time.perf_counter()
            await journal.append(stream, version, [NewEvent("bench.Added", 1, _DATA)])
            latencies.append(time.perf_counter() - start)

    try:
        await journal.append("warm-1", 0, [NewEvent("bench.Added", 1, _DATA)])
        start = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(callers)))
        seconds = time.perf_counter() - start
    finally:
        await journal.close()
    return AppendRun(name, callers * each, seconds, latencies)


def run_eventsourcing(dsn: str, callers: int, each: int, pool: int = 20) -> AppendRun:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    p = psycopg.conninfo.conninfo_to_dict(dsn)
    where = [str(p.get(k, "")) for k in ("dbname", "host", "port", "user", "password")]
    datastore = PostgresDatastore(*where, pool_size=pool, max_overflow=0)
    recorder = PostgresApplicationRecorder(datastore)
    recorder.create_table()
    latencies: list[float] = []
    lock = threading.Lock()

    def caller(index: int) -> None:
        ident = uuid.uuid4()
        mine = []
        for version in range(1, each + 1):
            start = time.perf_counter()
            recorder.insert_events([StoredEvent(ident, version, "bench:Added", _DATA)])
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    datastore.close()
    return AppendRun("eventsourcing (PostgreSQL)", callers * each, seconds, latencies)


Contender = Callable[[str], AppendRun]


def contenders(callers: int, each: int) -> dict[str, Contender]:
    return {
        "kiroku, group commit": lambda dsn: asyncio.run(
            run_kiroku(dsn, "kiroku, group commit", callers, each)
        ),
        "kiroku, one transaction per append": lambda dsn: asyncio.run(
            run_kiroku(
                dsn, "kiroku, one transaction per append", callers, each, writers=20, max_batch=1
            )
        ),
        "eventsourcing (PostgreSQL)": lambda dsn: run_eventsourcing(dsn, callers, each),
    }


def append_section(server: PostgresServer, *, callers: int, each: int, rounds: int) -> list[str]:
    """Interleaved rounds of every contender; a Markdown table of medians and spreads."""
    runs: dict[str, list[AppendRun]] = {}
    for _ in range(rounds):
        for name, run in contenders(callers, each).items():
            dsn = fresh_dsn(server)
            try:
                runs.setdefault(name, []).append(run(dsn))
            finally:
                drop(server, dsn)
    baseline = statistics.median(r.rate for r in runs["eventsourcing (PostgreSQL)"])
    lines = [
        f"appends on PostgreSQL, {callers} concurrent callers x {each} appends, one event each;"
        f" median of {rounds} interleaved round(s), {os.cpu_count()} cores,"
        f" load average {os.getloadavg()[0]:.1f}",
        "",
        "| contender | appends/s (median) | min - max | p50 ms | p99 ms | vs eventsourcing |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rs in runs.items():
        rates = [r.rate for r in rs]
        middle = sorted(rs, key=lambda r: r.rate)[len(rs) // 2]
        lines.append(
            f"| {name} | {statistics.median(rates):,.0f} | {min(rates):,.0f} - {max(rates):,.0f}"
            f" | {middle.quantile(0.5):.1f} | {middle.quantile(0.99):.1f}"
            f" | {statistics.median(rates) / baseline:.1f}x |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--callers", type=int, default=100)
    parser.add_argument("--nats", default=None, help="an existing NATS (default: start one)")
    parser.add_argument("--no-bus", action="store_true", help="only the append contenders")
    args = parser.parse_args()
    each = 5 if args.quick else 50
    rounds = args.rounds or (1 if args.quick else 5)
    with bench_server() as server:
        print("\n".join(append_section(server, callers=args.callers, each=each, rounds=rounds)))
        if args.no_bus:
            return
        print(flush=True)
        dsn = fresh_dsn(server)
        try:
            bus_rounds = args.rounds or (1 if args.quick else 3)
            lines = asyncio.run(run_bus(dsn, args.nats, quick=args.quick, rounds=bus_rounds))
            print("\n".join(lines))
        finally:
            drop(server, dsn)


if __name__ == "__main__":
    main()
