"""Projection runners fed by JetStream: exactly once in effect across kills and restarts."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import nats_kit
import pytest
from bus_kit import CODEC, Notes, nats_bus, note, options, read_model, spawn_ready
from kits.stopping import stops
from nats_kit import NatsServer

from kiroku import ProjectionHost
from kiroku.bus import Relay
from kiroku.bus.nats import NatsBus, NatsOptions
from kiroku.bus.source import BusSource
from kiroku.journal.sqlite import SQLiteJournal

pytestmark = [pytest.mark.nats, pytest.mark.slow]
nats_url = nats_kit.nats_url
nats_server = nats_kit.nats_server
HERE = Path(__file__).parent


async def rebuilt(journal: SQLiteJournal, tmp: Path) -> dict[str, object]:
    """The read model built from the journal alone: what the bus-fed one must equal."""
    host = ProjectionHost(journal, [Notes()], tmp / "rebuild", codec=CODEC)
    await host.catch_up()
    await host.close()
    return await read_model(str(tmp / "rebuild"), journal)


async def settle(
    data: Path, journal: SQLiteJournal, want: int, seconds: float = 30
) -> dict[str, object]:
    """Poll the projector's store (another process) until it holds ``want`` notes."""
    model: dict[str, object] = {}
    for _ in range(int(seconds / 0.2)):
        model = await read_model(str(data), journal)
        if count(model) >= want:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.5)  # late redeliveries must change nothing
    return await read_model(str(data), journal)


def count(model: dict[str, object]) -> int:
    return sum(len(doc["texts"]) for doc in model.values())  # type: ignore[index, misc]


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[SQLiteJournal]:
    j = await SQLiteJournal.open(tmp_path / "journal.db")
    yield j
    await j.close()


async def load(journal: SQLiteJournal, count: int, streams: int = 10) -> None:
    for i in range(count):
        await note(journal, f"board-{i % streams}", f"n{i}")


async def test_a_bus_fed_runner_equals_a_rebuild(
    nats_url: str, journal: SQLiteJournal, tmp_path: Path
) -> None:
    opts = options()
    async with nats_bus(nats_url, opts) as bus:
        relay = Relay(journal, bus, batch_size=25)
        await relay.start()
        host = ProjectionHost(journal, [Notes()], tmp_path / "live", codec=CODEC, batch_size=40)
        runner = host.runner("bus.notes")
        source = BusSource(bus, runner.name, batch_size=40, fetch_timeout=0.5)
        runner.source = source
        try:
            await host.start()
            await load(journal, 300)
            await runner.wait_for(300, timeout=20)
        finally:  # a stop that hangs fails the test, saying which
            await stops(host.close(), "the bus-fed projection host")
            await stops(relay.stop(), "the relay")
    assert source.delivered >= 300
    assert await read_model(str(tmp_path / "live"), journal) == await rebuilt(journal, tmp_path)


def spawn(
    journal: Path, data: Path, url: str, opts: NatsOptions, delay: float
) -> subprocess.Popen[str]:
    args = [str(journal), str(data), url, opts.stream, opts.prefix, str(delay)]
    return spawn_ready("projector_proc.py", args)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


async def test_a_projector_killed_mid_batch_resumes_exactly_once_in_effect(
    nats_url: str, journal: SQLiteJournal, tmp_path: Path
) -> None:
    opts = options()
    data = tmp_path / "projector"
    await load(journal, 400)
    async with nats_bus(nats_url, opts) as bus, Relay(journal, bus) as relay:
        await relay.wait_for(400)
    slow = await asyncio.to_thread(spawn, tmp_path / "journal.db", data, nats_url, opts, 0.01)
    try:
        await asyncio.sleep(2.0)  # several 50-event batches of 0.5 s each: kill inside one
        slow.send_signal(signal.SIGKILL)
    finally:
        stop(slow)
    partial = await read_model(str(data), journal)
    assert 0 < count(partial) < 400
    fast = await asyncio.to_thread(spawn, tmp_path / "journal.db", data, nats_url, opts, 0.0)
    try:
        model = await settle(data, journal, 400)
    finally:
        stop(fast)
    assert model == await rebuilt(journal, tmp_path)


async def test_a_nats_restart_mid_load_loses_nothing(
    nats_server: NatsServer, journal: SQLiteJournal, tmp_path: Path
) -> None:
    opts = NatsOptions(stream="KIROKU", prefix="kiroku", backoff=(1.0,), ack_wait=1.0,
                       publish_timeout=2.0)  # fmt: skip
    bus = await NatsBus.connect(nats_server.url, opts)
    host = ProjectionHost(journal, [Notes()], tmp_path / "live", codec=CODEC, batch_size=40)
    runner = host.runner("bus.notes")
    runner.source = BusSource(bus, runner.name, batch_size=40, fetch_timeout=0.5)
    try:
        async with Relay(journal, bus, batch_size=25, retry_delay=0.2, lease_ttl=1.5):
            await host.start()
            loader = asyncio.create_task(load(journal, 600))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(nats_server.restart)
            await loader
            await runner.wait_for(600, timeout=60)
        await host.close()
    finally:
        await bus.close()
    assert await read_model(str(tmp_path / "live"), journal) == await rebuilt(journal, tmp_path)
