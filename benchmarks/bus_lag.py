"""The bus-fed projector processes and the end-to-end lag, for ``benchmarks.distributed_bus``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bus_projector import CODEC, Counted
from kiroku.bus import Relay
from kiroku.bus.nats import NatsBus, NatsOptions
from kiroku.domain.envelope import StoredEvent
from kiroku.journal.protocol import ANY, Journal

__all__ = ["Lag", "Projector", "lag"]


def bus_options(tag: int) -> NatsOptions:
    return NatsOptions(stream=f"RELAY{tag}", prefix=f"relay{tag}")


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
