"""What the chat's four projections cost per post, in-process, on the live path.

    python -m benchmarks.projector_path                  # CPU per post
    python -m benchmarks.projector_path --instructions   # instructions per post, under valgrind

A journal of chat posts (50 rooms, bodies of a few words) is written first;
then a ``ProjectionHost`` with the chat's projections starts from zero and
follows it exactly as the projector process does (one shared feed read, the
runners woken by it), in batches of ``--batch`` events: the size of the
batches ``benchmarks.http_load`` sees at an offered 3,000 posts/s. The clock
(or the instruction count) runs from the start until every projection has
processed the last post. What is left out is what the projector process adds
around this: commit notes to other processes and the heartbeat. One thing
differs from a projector at the journal's head: catching up, the feed's reads
go to the journal's reader threads; at the head, they run on the loop.

The baseline, measured in the same run, is raw sqlite3 doing the least four
read models of a post could: in each of four files, one INSERT of a JSON
document per post and one UPSERT of a checkpoint per batch, in one
transaction, on a WAL database at ``synchronous=NORMAL`` (what the read
stores use).

``--instructions`` counts instructions (valgrind's callgrind: the same count
for the same code whatever else the machine does); each figure is the
difference between two runs of different lengths, so start-up cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import uvloop

from benchmarks.callgrind import instructions
from benchmarks.machine import machine
from kiroku import Codec, ProjectionHost, Runtime
from kiroku.apps.chat import Room, app
from kiroku.apps.chat import commands as c
from kiroku.domain.ids import new_id
from kiroku.journal.sqlite import SQLiteJournal

__all__ = ["main"]

ROOMS = 50
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "by", "a", "river")


async def _history(data: Path, posts: int) -> None:
    """``posts`` messages over ``ROOMS`` rooms, appended through the chat's own runtime."""
    journal = await SQLiteJournal.open(data / "journal.db")
    runtime = Runtime(journal, app.deciders, codec=Codec(app.registry))
    try:
        for r in range(ROOMS):
            await runtime.execute(Room, f"r{r}", c.CreateRoom(f"r{r}", f"Room {r}", "ann", ()))
        for start in range(0, posts, ROOMS):  # one post per room at a time: appends group
            round_ = range(start, min(start + ROOMS, posts))
            await asyncio.gather(*(_post(runtime, i) for i in round_))
    finally:
        await runtime.close()
        await journal.close()


async def _post(runtime: Runtime, i: int) -> None:
    room = f"r{i % ROOMS}"
    body = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(6))
    message_id = new_id().hex  # as the HTTP layer makes them
    await runtime.execute(Room, room, c.PostMessage(room, message_id, body, "ann"))


async def _project(data: Path, batch: int) -> float:
    """CPU seconds the projections take to follow the whole journal from zero."""
    journal = await SQLiteJournal.open(data / "journal.db")
    host = ProjectionHost(
        journal,
        list(app.projections),
        data / "read",
        codec=Codec(app.registry),
        policies=app.policies,
        batch_size=batch,
    )
    try:
        head = await journal.head_position()
        cpu = time.process_time()
        await host.start()
        for name in host.names:
            await host.runner(name).wait_for(head, timeout=600)
        return time.process_time() - cpu
    finally:
        await host.close()
        await journal.close()


def _raw(data: Path, posts: int, batch: int) -> float:
    """The baseline: for each of four read models, one file, one INSERT of a JSON
    document per post and a checkpoint per batch, all in one transaction; raw sqlite3."""
    conns = []
    for n in range(len(app.projections)):
        conn = sqlite3.connect(data / f"raw{n}.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE docs (id TEXT PRIMARY KEY, doc TEXT)")
        conn.execute("CREATE TABLE checkpoint (name TEXT PRIMARY KEY, position INTEGER)")
        conns.append(conn)
    cpu = time.process_time()
    for start in range(0, posts, batch):
        end = min(start + batch, posts)
        for conn in conns:
            conn.execute("BEGIN IMMEDIATE")
            for i in range(start, end):
                doc = json.dumps({"room": f"r{i % ROOMS}", "body": WORDS[i % len(WORDS)], "n": i})
                conn.execute("INSERT INTO docs VALUES (?, ?)", (f"m{i}", doc))
            conn.execute(
                "INSERT INTO checkpoint VALUES ('raw', ?) "
                "ON CONFLICT(name) DO UPDATE SET position = excluded.position",
                (end,),
            )
            conn.execute("COMMIT")
    spent = time.process_time() - cpu
    for conn in conns:
        conn.close()
    return spent


def _run(posts: int, batch: int, case: str) -> float:
    """µs of CPU per post for ``case`` (``kiroku`` or ``raw``), on a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="kiroku-projector-") as tmp:
        data = Path(tmp)
        if case == "raw":
            return _raw(data, posts, batch) / posts * 1e6
        uvloop.run(_history(data, posts))
        return uvloop.run(_project(data, batch)) / posts * 1e6


def _instructions(posts: int, batch: int) -> int:
    """Instructions per post: two counted runs, ``posts`` and ``3 * posts``, each over a
    history written beforehand by this process (outside the count)."""
    counts = []
    for n in (posts, 3 * posts):
        with tempfile.TemporaryDirectory(prefix="kiroku-projector-") as tmp:
            uvloop.run(_history(Path(tmp), n))
            args = ["-m", "benchmarks.projector_path", "--project-only", tmp]
            counts.append(instructions([*args, "--batch", str(batch)]))
    return (counts[1] - counts[0]) // (2 * posts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=5_000, help="per run (default 5000)")
    parser.add_argument("--batch", type=int, default=16, help="events per batch (default 16)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--instructions", action="store_true", help="count under valgrind")
    parser.add_argument("--project-only", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.project_only:  # one counted run under valgrind, over a history written before
        uvloop.run(_project(Path(args.project_only), args.batch))
        return
    if args.instructions:
        count = _instructions(min(args.posts, 1_000), args.batch)
        print(f"chat projections: {count:,} instructions per post (batches of {args.batch})")
        return
    results: dict[str, list[float]] = {"kiroku": [], "raw": []}
    for _ in range(args.runs):  # alternately, so drift touches both alike
        for case in results:
            results[case].append(_run(args.posts, args.batch, case))
    raw = statistics.median(results["raw"])
    for case, spent in results.items():
        median = statistics.median(spent)
        print(
            f"{case}: {median:.1f} us CPU per post (min {min(spent):.1f}, max {max(spent):.1f},"
            f" {len(spent)} runs of {args.posts}, batches of {args.batch}), {median / raw:.1f}x raw"
        )
    print(machine("one process"))


if __name__ == "__main__":
    main()
