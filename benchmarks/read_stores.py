"""The chat's four read models caught up from zero on SQLite and on PostgreSQL read stores.

    python -m benchmarks.read_stores --dsn postgresql://postgres@127.0.0.1/test [--steps 5000]
    python -m benchmarks.read_stores --dsn … --quick      # a smoke run

A chat history (rooms, posts, edits, deletions, read marks) is appended to an
in-memory journal first; each round builds the four chat projections from
position 0 into fresh stores and reports events per second (journal events,
each applied by every projection that takes it) and this process's CPU per
event (``getrusage``). PostgreSQL's own CPU is not in that figure: the server
is another process (its share is in the wall time).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from benchmarks.machine import machine
from kiroku import Codec, MemoryJournal, ProjectionHost
from kiroku.apps.chat import app as chat
from kiroku.apps.chat import commands as c
from kiroku.apps.chat.room import Room
from kiroku.projections.postgres import PostgresReadStores
from kiroku.runtime import Runtime


async def history(steps: int) -> tuple[MemoryJournal, Codec]:
    journal, codec = MemoryJournal(), Codec(chat.registry)
    rng = random.Random(5)
    rooms = [f"r{i}" for i in range(20)]
    posted: dict[str, list[str]] = {r: [] for r in rooms}
    async with Runtime(journal, chat.deciders, codec=codec) as runtime:
        for room in rooms:
            await runtime.execute(Room, room, c.CreateRoom(room, room, "ann", ("bob",)))
        for step in range(steps):
            room, pick = rng.choice(rooms), rng.random()
            if pick < 0.7 or not posted[room]:
                command: c.RoomCommand = c.PostMessage(room, f"m{step}", f"words {step}", "ann")
                posted[room].append(f"m{step}")
            elif pick < 0.8:
                command = c.EditMessage(room, rng.choice(posted[room]), f"edit {step}", "ann")
            elif pick < 0.85:
                command = c.DeleteMessage(room, posted[room].pop(), "ann")
            else:
                command = c.MarkRead(room, rng.choice(posted[room]), "bob")
            await runtime.execute(Room, room, command)
    return journal, codec


async def one_round(journal: MemoryJournal, codec: Codec, dsn: str | None) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        schema_prefix = f"kiroku_bench_{uuid.uuid4().hex[:8]}"
        catalog = PostgresReadStores(dsn, prefix=schema_prefix) if dsn else None
        host = ProjectionHost(journal, chat.projections, Path(tmp), codec=codec, catalog=catalog)
        try:
            cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            await host.catch_up()
            wall, cpu1 = time.perf_counter() - wall0, resource.getrusage(resource.RUSAGE_SELF)
        finally:
            await host.close()
            if dsn:
                _drop(dsn, schema_prefix)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return wall, cpu


def _drop(dsn: str, prefix: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)
        ).fetchall()
        for (name,) in names:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True, help="a PostgreSQL database to use")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5_000, help="commands in the history")
    args = parser.parse_args()
    steps = 500 if args.quick else args.steps
    journal, codec = await history(steps)
    events = await journal.head_position()
    print(machine("the projections and PostgreSQL share these cores"))
    print(f"{events} events, 4 chat projections, {args.rounds} rounds each")
    print("store       events/s (median, min-max)     CPU µs/event here (median)")
    for label, dsn in (("sqlite", None), ("postgresql", args.dsn)):
        rounds = [await one_round(journal, codec, dsn) for _ in range(args.rounds)]
        rates = [events / wall for wall, _ in rounds]
        cpu = statistics.median(cpu / events * 1e6 for _, cpu in rounds)
        print(
            f"{label:<11} {statistics.median(rates):>8.0f} ({min(rates):.0f}-{max(rates):.0f})"
            f"{'':>14}{cpu:>8.0f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
