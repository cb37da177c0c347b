"""What the machine charges for the thread hand-off every journal write makes.

    python -m benchmarks.handoff

A SQLite journal writes on a thread of its own: each append is a future put on
the writer's queue and answered from that thread with ``call_soon_threadsafe``,
so a lone caller pays one round trip between the event loop and the thread per
command, besides the SQL and the fsync. What that round trip costs depends on
the machine more than on kiroku (waking a sleeping thread on another core is a
cross-processor interrupt; on a virtual machine, an exit to the host), so the
write benchmark's sequential figures are best read beside this one. It measures
the bare round trip, on uvloop and on asyncio's own loop: wall time and process
CPU per round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import threading
import time
from collections.abc import Sequence

import uvloop

from benchmarks.machine import machine

__all__ = ["main", "round_trips"]


async def round_trips(n: int) -> tuple[float, float]:
    """(wall µs, CPU µs) per round trip: loop → thread → loop, ``n`` times in a row."""
    loop = asyncio.get_running_loop()
    jobs: queue.SimpleQueue[asyncio.Future[None] | None] = queue.SimpleQueue()

    def serve() -> None:
        while (future := jobs.get()) is not None:
            loop.call_soon_threadsafe(future.set_result, None)

    thread = threading.Thread(target=serve, name="handoff")
    thread.start()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            future = loop.create_future()
            jobs.put(future)
            await future
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        jobs.put(None)
        thread.join()
    return wall / n * 1e6, cpu / n * 1e6


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round-trips", type=int, default=20_000)
    args = parser.parse_args(argv)
    for name, run in (("uvloop", uvloop.run), ("asyncio", asyncio.run)):
        wall, cpu = run(round_trips(args.round_trips))
        print(f"{name}: loop -> thread -> loop, {wall:.1f} us wall, {cpu:.1f} us CPU each")
    print(machine("one process"))


if __name__ == "__main__":
    main()
