"""The write side, side by side: kiroku's runtime, the eventsourcing library, raw sqlite3.

    python -m benchmarks.write            # the full run recorded in RESULTS.md
    python -m benchmarks.write --quick    # a smoke run (seconds)
    python -m benchmarks.write --single-stream [--quick] [--rounds N]

Workload: N aggregates, each created and then given M commands, one event per
command; once with one sequential caller, once with C concurrent callers
(asyncio tasks for kiroku, threads for the synchronous contenders). Every
contender commits durably (SQLite WAL, synchronous=FULL) before answering.
Then: rehydrating one aggregate of 10,000 events, without and with a snapshot.

``--single-stream``: 50 concurrent callers on ONE aggregate, each sending its
commands one at a time, with the runtime deciding one command per append
(``max_batch=1``, the behaviour before command batching) and with the default
batching, in interleaved rounds; reports events/s, latency, CPU time per
command and how many commands each journal commit carried.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.domain import event as es_event

from benchmarks.machine import load_average
from kiroku import Codec, Decider, Registry, Runtime, Snapshot, event
from kiroku.api.server import run as run_loop
from kiroku.domain.envelope import utc_now
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.journal.sqlite.schema import SCHEMA, iso_utc

REGISTRY = Registry()


# -- the aggregate, in kiroku ---------------------------------------------------


# Events and state as msgspec Structs: they build and decode several times
# faster than frozen dataclasses, which matters when 10,000 events are folded.
@event("bench.Created", registry=REGISTRY)
class Created(msgspec.Struct, frozen=True):
    owner: str


@event("bench.Added", registry=REGISTRY)
class Added(msgspec.Struct, frozen=True):
    amount: int


@dataclass(frozen=True, slots=True)
class Create:
    owner: str


@dataclass(frozen=True, slots=True)
class Add:
    amount: int


class Tally(msgspec.Struct, frozen=True):
    owner: str = ""
    total: int = 0


class Counter(Decider[Tally, Create | Add, Created | Added]):
    category = "counter"
    initial = Tally()

    def decide(self, command: Create | Add, state: Tally) -> Sequence[Created | Added]:
        if isinstance(command, Create):
            return [Created(command.owner)]
        return [Added(command.amount)]

    def evolve(self, state: Tally, event: Created | Added) -> Tally:
        if isinstance(event, Created):
            return Tally(event.owner, state.total)
        return Tally(state.owner, state.total + event.amount)


# -- the same aggregate, in the eventsourcing library ----------------------------


class EsCounter(Aggregate):
    @es_event("Created")
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.total = 0

    @es_event("Added")
    def add(self, amount: int) -> None:
        self.total += amount


class EsCounters(Application[uuid.UUID]):
    def create(self, owner: str) -> uuid.UUID:
        counter = EsCounter(owner)
        self.save(counter)
        return counter.id

    def add(self, ident: uuid.UUID, amount: int) -> None:
        counter: EsCounter = self.repository.get(ident)
        counter.add(amount)
        self.save(counter)


# -- measuring -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Workload:
    aggregates: int
    commands: int  # after the create
    callers: int

    @property
    def events(self) -> int:
        return self.aggregates * (self.commands + 1)

    def share(self, caller: int) -> range:
        return range(caller, self.aggregates, self.callers)


@dataclass(frozen=True, slots=True)
class Outcome:
    contender: str
    callers: int
    events: int
    seconds: float
    latencies: tuple[float, ...]
    cpu: float = 0.0  # process CPU seconds (all threads) over the run

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.events * 1e6

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_kiroku(directory: Path, work: Workload) -> Outcome:
    journal = await SQLiteJournal.open(directory / "kiroku.db")
    latencies: list[float] = []
    runtime = Runtime(journal, [Counter()], codec=Codec(REGISTRY))

    async def caller(index: int) -> None:
        for a in work.share(index):
            ident = f"c{a}"
            commands: list[Create | Add] = [Create(ident), *(Add(n) for n in range(work.commands))]
            for command in commands:
                t0 = time.perf_counter()
                await runtime.execute(Counter, ident, command)
                latencies.append(time.perf_counter() - t0)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller(i) for i in range(work.callers)))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    await runtime.close()
    await journal.close()
    return Outcome("kiroku", work.callers, work.events, seconds, tuple(latencies), cpu)


@dataclass(frozen=True, slots=True)
class SingleStream:
    """One round of many callers on one aggregate."""

    max_batch: int
    outcome: Outcome
    cpu_us: float  # process CPU time (all threads) per command
    appends: int
    commits: int


async def run_single_stream(
    directory: Path, callers: int, each: int, max_batch: int
) -> SingleStream:
    """``callers`` tasks each send ``each`` commands to one aggregate, one at a time."""
    journal = await SQLiteJournal.open(directory / f"single-{max_batch}.db")
    runtime = Runtime(journal, [Counter()], codec=Codec(REGISTRY), max_batch=max_batch)
    await runtime.execute(Counter, "hot", Create("hot"))
    latencies: list[float] = []

    async def caller() -> None:
        for n in range(each):
            t0 = time.perf_counter()
            await runtime.execute(Counter, "hot", Add(n))
            latencies.append(time.perf_counter() - t0)

    appends, commits = journal.stats.appends, journal.stats.commits
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller() for _ in range(callers)))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    appends, commits = journal.stats.appends - appends, journal.stats.commits - commits
    await runtime.close()
    await journal.close()
    count = callers * each
    outcome = Outcome(f"kiroku max_batch={max_batch}", callers, count, seconds, tuple(latencies))
    return SingleStream(max_batch, outcome, cpu / count * 1e6, appends, commits)


def single_stream(rounds: int, quick: bool) -> None:
    callers, each = (50, 4) if quick else (50, 40)
    runs: dict[int, list[SingleStream]] = {1: [], 64: []}
    with tempfile.TemporaryDirectory(prefix="kiroku-bench-") as tmp:
        for r in range(rounds):
            for max_batch in runs:
                directory = Path(tmp) / f"{max_batch}-{r}"
                directory.mkdir()
                run = asyncio.run(run_single_stream(directory, callers, each, max_batch))
                runs[max_batch].append(run)
                print(single_table([run])[-1], flush=True)
    load = load_average()
    print(
        f"\nsingle stream: {callers} callers x {each} commands on one aggregate, SQLiteJournal, "
        f"median of {rounds} interleaved round(s), {os.cpu_count()} cores, load average {load}\n"
    )
    medians = [sorted(rs, key=lambda s: s.outcome.rate)[len(rs) // 2] for rs in runs.values()]
    print("\n".join(single_table(medians)))


def single_table(runs: list[SingleStream]) -> list[str]:
    lines = [
        "| max_batch | callers | events | events/s | median ms | p99 ms | CPU us/command "
        "| commands/commit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in runs:
        o = s.outcome
        lines.append(
            f"| {s.max_batch} | {o.callers} | {o.events} | {o.rate:,.0f} | "
            f"{o.quantile(0.5):.2f} | {o.quantile(0.99):.2f} | {s.cpu_us:.0f} | "
            f"{o.events / max(1, s.commits):.1f} |"
        )
    return lines


def run_threads(name: str, work: Workload, one: Callable[[int, list[float]], None]) -> Outcome:
    """Run ``one(aggregate, latencies)`` for every aggregate, from ``work.callers`` threads."""
    lock = threading.Lock()
    latencies: list[float] = []

    def caller(index: int) -> None:
        mine: list[float] = []
        for a in work.share(index):
            one(a, mine)
        with lock:
            latencies.extend(mine)

    start, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=work.callers) as pool:
        list(pool.map(caller, range(work.callers)))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Outcome(name, work.callers, work.events, seconds, tuple(latencies), cpu)


def run_eventsourcing(directory: Path, work: Workload) -> Outcome:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(directory / "es.db")}
    app = EsCounters(env=env)

    def one(a: int, latencies: list[float]) -> None:
        t0 = time.perf_counter()
        ident = app.create(f"c{a}")
        latencies.append(time.perf_counter() - t0)
        for n in range(work.commands):
            t0 = time.perf_counter()
            app.add(ident, n)
            latencies.append(time.perf_counter() - t0)

    try:
        return run_threads("eventsourcing", work, one)
    finally:
        app.close()


def run_raw(directory: Path, work: Workload) -> Outcome:
    """The physical floor: one INSERT of kiroku's row and one durable COMMIT per command."""
    path = directory / "raw.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.executescript(SCHEMA)
    local = threading.local()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "db"):
            db = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=False)
            db.execute("PRAGMA synchronous=FULL")
            local.db = db
        return local.db  # type: ignore[no-any-return]  # set just above

    def insert(db: sqlite3.Connection, stream: str, version: int, kind: str, data: str) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO events (stream, version, type, schema_version, data, event_id,"
            " occurred_at, metadata) VALUES (?, ?, ?, 1, ?, ?, ?, '{}')",
            (stream, version, kind, data, str(uuid.uuid4()), iso_utc(utc_now())),
        )
        db.execute("COMMIT")

    def one(a: int, latencies: list[float]) -> None:
        db = connection()
        rows = [("bench.Created", f'{{"owner":"c{a}"}}')]
        rows += [("bench.Added", f'{{"amount":{n}}}') for n in range(work.commands)]
        for version, (kind, data) in enumerate(rows, 1):
            t0 = time.perf_counter()
            insert(db, f"counter-c{a}", version, kind, data)
            latencies.append(time.perf_counter() - t0)

    return run_threads("raw sqlite3", work, one)


@dataclass(frozen=True, slots=True)
class Rehydration:
    """Median milliseconds to bring one long aggregate back to life."""

    without_snapshot: float
    reading: float  # of which SQLiteJournal.read_stream alone
    reading_cpu: float  # the same read's CPU time (all threads): steadier on a busy machine
    with_snapshot: float


async def rehydrate(directory: Path, size: int, repeats: int) -> Rehydration:
    """Recover one aggregate of ``size`` events in a fresh runtime, without and with a snapshot."""
    journal = await SQLiteJournal.open(directory / "rehydrate.db")
    codec = Codec(REGISTRY)
    stream = "counter-big"
    await journal.append(stream, 0, [codec.encode(Created("big"))])
    for start in range(1, size, 500):
        batch = [codec.encode(Added(n)) for n in range(start, min(size, start + 500))]
        await journal.append(stream, start, batch)
    without = await _time_recovery(journal, codec, repeats)
    reading, reading_cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        await journal.read_stream(stream)
        reading.append(time.perf_counter() - t0)
        reading_cpu.append(time.process_time() - c0)
    state = Counter().fold([Created("big"), *(Added(n) for n in range(1, size))])
    snapshot = Snapshot(stream, size, "Tally", 1, codec.encode_state(state), utc_now(), {})
    await journal.save_snapshot(snapshot)
    with_snapshot = await _time_recovery(journal, codec, repeats)
    await journal.close()
    return Rehydration(
        without,
        statistics.median(reading) * 1000,
        statistics.median(reading_cpu) * 1000,
        with_snapshot,
    )


async def _time_recovery(journal: SQLiteJournal, codec: Codec, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        runtime = Runtime(journal, [Counter()], codec=codec, snapshot_every=None)
        t0 = time.perf_counter()
        await runtime.state(Counter, "big")
        times.append(time.perf_counter() - t0)
        await runtime.close()
    return statistics.median(times) * 1000


# -- reporting -------------------------------------------------------------------


def table(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "| contender | callers | events | seconds | events/s | median ms | p99 ms | CPU us/event |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.contender} | {o.callers} | {o.events} | {o.seconds:.2f} | {o.rate:,.0f} | "
            f"{o.quantile(0.5):.2f} | {o.quantile(0.99):.2f} | {o.cpu_us:,.0f} |"
        )
    return lines


def ratios(outcomes: list[Outcome]) -> list[str]:
    by = {(o.contender, o.callers): o for o in outcomes}
    lines = []
    for callers in sorted({o.callers for o in outcomes}):
        k = by[("kiroku", callers)]
        es = by[("eventsourcing", callers)]
        raw = by[("raw sqlite3", callers)]
        lines.append(
            f"- {callers} caller(s): kiroku/eventsourcing = {k.rate / es.rate:.1f}x, "
            f"kiroku/raw = {k.rate / raw.rate:.2f}x"
        )
    return lines


LOOP = {"uvloop": True}  # kiroku's runs: on the loop `kiroku serve` uses, or asyncio's


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.write", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run with tiny numbers")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the contenders this many times, interleaved, and report each one's median "
        "round (steadier on a machine shared with other work)",
    )
    parser.add_argument(
        "--single-stream",
        action="store_true",
        help="only the single-aggregate run: 50 callers on one stream, with and without "
        "command batching",
    )
    parser.add_argument(
        "--asyncio-loop",
        action="store_true",
        help="run kiroku on asyncio's own loop instead of uvloop (which `kiroku serve` uses)",
    )
    args = parser.parse_args(argv)
    LOOP["uvloop"] = not args.asyncio_loop
    if args.single_stream:
        single_stream(args.rounds, args.quick)
        return
    aggregates, commands, callers = (20, 3, 5) if args.quick else (1000, 10, 100)
    size, repeats = (300, 2) if args.quick else (10_000, 7)
    outcomes: list[Outcome] = []
    spreads: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kiroku-bench-") as tmp:
        for n_callers in (1, callers):
            work = Workload(aggregates, commands, n_callers)
            rounds: dict[str, list[Outcome]] = {}
            for r in range(args.rounds):
                for contender in ("kiroku", "eventsourcing", "raw"):
                    directory = Path(tmp) / f"{contender}-{n_callers}-{r}"
                    directory.mkdir()
                    rounds.setdefault(contender, []).append(_run(contender, directory, work))
                    print(table(rounds[contender][-1:])[-1], flush=True)
            outcomes += [_median(runs) for runs in rounds.values()]
            spreads.append(_round_ratios(n_callers, rounds))
        rehydrate_dir = Path(tmp) / "rehydrate"
        rehydrate_dir.mkdir()
        rehydration = asyncio.run(rehydrate(rehydrate_dir, size, repeats))
    load = load_average()
    print(
        f"\nwrite side: {aggregates} aggregates x (1 create + {commands} commands), "
        f"median of {args.rounds} interleaved round(s), {os.cpu_count()} cores, "
        f"load average {load}\n"
    )
    print("\n".join(table(outcomes)))
    print()
    print("\n".join(ratios(outcomes)))
    print("\n".join(spreads))
    print(
        f"\nrehydrate {size} events: {rehydration.without_snapshot:.2f} ms without a snapshot "
        f"(of which SQLiteJournal.read_stream {rehydration.reading:.2f} ms, "
        f"{rehydration.reading_cpu:.2f} ms of CPU), "
        f"{rehydration.with_snapshot:.3f} ms with one (median of {repeats})"
    )


def _round_ratios(callers: int, rounds: dict[str, list[Outcome]]) -> str:
    """kiroku/eventsourcing in each interleaved round: the spread behind the median."""
    each = [k.rate / e.rate for k, e in zip(rounds["kiroku"], rounds["eventsourcing"], strict=True)]
    listed = ", ".join(f"{r:.1f}x" for r in each)
    return f"- {callers} caller(s), kiroku/eventsourcing per round: {listed}"


def _median(runs: list[Outcome]) -> Outcome:
    """The round with the median throughput (a real run, not a blend of several)."""
    return sorted(runs, key=lambda o: o.rate)[len(runs) // 2]


def _run(contender: str, directory: Path, work: Workload) -> Outcome:
    if contender == "kiroku":  # on the loop `kiroku serve` runs it on (uvloop where installed)
        running = run_kiroku(directory, work)
        return run_loop(running) if LOOP["uvloop"] else asyncio.run(running)
    if contender == "eventsourcing":
        return run_eventsourcing(directory, work)
    return run_raw(directory, work)


if __name__ == "__main__":
    main()
