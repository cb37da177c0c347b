"""Projector CPU per event, live, with one shared journal read or each runner reading alone.

    python -m benchmarks.feed                 # 400 groups of 5 and 200 of 25, 3 runs each
    python -m benchmarks.feed --quick         # one run each

The chat's four projections follow a SQLite journal in this process while
groups of posts are appended concurrently (a group commit each, a short pause
between groups, as under HTTP load). The same appends are timed first without
the projections, and that CPU is subtracted: what is left is the projections'
CPU per event. ``shared`` is the host's default (``SharedFeed``); ``alone``
gives each runner its own ``JournalSource``, as before the feed.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import uuid
from pathlib import Path

from benchmarks.machine import machine
from kiroku import Codec, ProjectionHost
from kiroku.apps.chat import app
from kiroku.apps.chat.events import MessagePosted, RoomCreated
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections.source import JournalSource


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


async def _fill(
    journal: SQLiteJournal, codec: Codec, rooms: list[str], groups: int, size: int
) -> None:
    for g in range(groups):
        posts = [
            journal.append(
                f"room-{rooms[(g * size + i) % len(rooms)]}", ANY,
                codec.encode_all([MessagePosted(rooms[0], uuid.uuid4().hex, "ann", "hello")]),
            )
            for i in range(size)
        ]  # fmt: skip
        await asyncio.gather(*posts)
        await asyncio.sleep(0.004)


async def one(mode: str, groups: int, size: int) -> tuple[float, int]:
    """Projection CPU per event (us) and the journal reads the runners made."""
    with tempfile.TemporaryDirectory(prefix="kiroku-feed-") as tmp:
        journal = await SQLiteJournal.open(Path(tmp) / "journal.db")
        codec = Codec(app.registry)
        rooms = [uuid.uuid4().hex for _ in range(50)]
        for r in rooms:
            await journal.append(
                f"room-{r}", ANY, codec.encode_all([RoomCreated(r, "x", "ann", ("ann",))])
            )
        before = _cpu()
        await _fill(journal, codec, rooms, groups, size)
        appending = _cpu() - before
        host = ProjectionHost(journal, list(app.projections), tmp, codec=codec)
        if mode == "alone":
            for runner in host.runners.values():
                runner.source = JournalSource(journal, host.batch_size)
        await host.start()
        await host.wait_for(await journal.head_position(), timeout=120)
        before = _cpu()
        await _fill(journal, codec, rooms, groups, size)
        await host.wait_for(await journal.head_position(), timeout=120)
        total = _cpu() - before
        reads = host.feed.stats.reads + host.feed.stats.own_reads
        await host.close()
        await journal.close()
    return 1e6 * (total - appending) / (groups * size), reads


async def run(runs: int) -> None:
    for groups, size in ((400, 5), (200, 25)):
        for mode in ("shared", "alone"):
            got = [await one(mode, groups, size) for _ in range(runs)]
            us = [g[0] for g in got]
            print(
                f"groups of {size:>2}, {mode:>6}: projections' CPU per event median "
                f"{statistics.median(us):.0f} us ({min(us):.0f}-{max(us):.0f}), "
                f"shared journal reads {got[0][1] if mode == 'shared' else 'n/a'}"
            )
    print(machine("appends and projections in one process"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one run each")
    asyncio.run(run(1 if parser.parse_args().quick else 3))


if __name__ == "__main__":
    main()
