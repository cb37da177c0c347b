"""What the order of ids costs the journal: random (version 4) against time-ordered
(version 7) event and message ids, in one run.

    python -m benchmarks.ids            # 20,000 posts per contender
    python -m benchmarks.ids --quick    # a smoke run

Each contender appends the same chat history, the chat's own events, to a fresh
SQLite journal (durable, ``synchronous=FULL``): 50 rooms, posts appended 20 at
a time to 20 rooms, so each journal commit carries the same group of events
whatever the ids. The only difference is where the event ids and the message
ids come from (the runtime draws event ids from ``kiroku.domain.ids.new_id``,
the chat's HTTP layer its message ids). Reported per post, from the kernel's own counters for this
process (``/proc/self/io``: every thread, the journal's writer included): write
system calls and bytes written, and the journal's files' size at the end. Counts, not
times: the same for the same code and history, however busy the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import uvloop

from benchmarks.machine import machine
from kiroku import Codec
from kiroku.apps.chat import app
from kiroku.apps.chat import events as e
from kiroku.domain import ids
from kiroku.journal.sqlite import SQLiteJournal

__all__ = ["main"]

ROOMS = 50
AT_ONCE = 20

CONTENDERS: list[tuple[str, Callable[[], uuid.UUID]]] = [
    ("random (v4)", uuid.uuid4),
    ("time-ordered (v7)", ids.new_id),
]


def _io() -> dict[str, int]:
    """This process's I/O counters (all threads): ``syscw``, ``wchar`` and the rest."""
    counters = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        name, _, value = line.partition(":")
        counters[name] = int(value)
    return counters


async def _write(data: Path, posts: int, make: Callable[[], uuid.UUID]) -> dict[str, float]:
    journal = await SQLiteJournal.open(data / "journal.db")
    codec = Codec(app.registry)
    try:
        for r in range(ROOMS):
            created = e.RoomCreated(f"r{r}", f"Room {r}", "ann", ("ann",))
            await journal.append(f"room-r{r}", 0, [codec.encode(created, event_id=make())])
        before = _io()
        for start in range(0, posts, AT_ONCE):
            sent = range(start, min(start + AT_ONCE, posts))
            await asyncio.gather(*(_post(journal, codec, i, make) for i in sent))
        after = _io()
    finally:
        await journal.close()
    return {
        "write calls": (after["syscw"] - before["syscw"]) / posts,
        "KiB written": (after["wchar"] - before["wchar"]) / posts / 1024,
    }


async def _post(
    journal: SQLiteJournal, codec: Codec, i: int, make: Callable[[], uuid.UUID]
) -> None:
    room, version = f"r{i % ROOMS}", 1 + i // ROOMS  # the room's version before this post
    posted = e.MessagePosted(room, make().hex, "ann", "hello, how are you")
    await journal.append(f"room-{room}", version, [codec.encode(posted, event_id=make())])


def _run(posts: int, make: Callable[[], uuid.UUID]) -> dict[str, float]:
    """``posts`` posts with ids from ``make``, on a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="kiroku-ids-") as tmp:
        figures = uvloop.run(_write(Path(tmp), posts, make))
        size = sum(f.stat().st_size for f in Path(tmp).glob("journal.db*"))
        return {**figures, "journal bytes": size / posts}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000, help="per contender")
    parser.add_argument("--quick", action="store_true", help="a smoke run (1,000 posts)")
    args = parser.parse_args(argv)
    posts = 1_000 if args.quick else args.posts
    results = {name: _run(posts, make) for name, make in CONTENDERS}
    base = results[CONTENDERS[0][0]]
    print(f"journal writes per post, {posts:,} posts, {AT_ONCE} per group commit:")
    for name, figures in results.items():
        cells = ", ".join(
            f"{what} {value:,.2f} ({value / base[what]:.2f}x)" for what, value in figures.items()
        )
        print(f"  {name}: {cells}")
    print(machine(f"one process, pid {os.getpid()}"))


if __name__ == "__main__":
    main()
