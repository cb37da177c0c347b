"""Lanes: one projection's bus partitions shared by two projectors writing one
PostgreSQL read store (each host here stands for a projector process: its own
catalog connection, its own durable consumer, its own lane).

What must hold: every event applied exactly once although both lanes
read-modify-write a document they share; the projection's checkpoint is the
lowest lane's, so read-your-writes never answers early, and an idle lane does
not hold it back; a rebuild run by one lane swaps under the other, which
follows the new generation and loses nothing it was given meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from kits.domain import Noted, append
from kits.hosts import new_host
from pgkit import dsn_fixture

from kiroku import MemoryJournal, Projection, Recorded, Tx, handles
from kiroku.bus import MemoryBus, partition_of
from kiroku.bus.relay import Relay
from kiroku.domain.streams import id_of
from kiroku.projections.checkpoint import load_checkpoint
from kiroku.projections.lanes import Lane
from kiroku.projections.postgres import PostgresReadStores
from kiroku.roles.lanes import feed_from_bus

pytestmark = pytest.mark.postgres
__all__ = ["dsn_fixture"]

PARTITIONS = 4
LANES = ((0, 1), (2, 3))


class Tally(Projection):
    """A document every stream updates (the lanes' shared read-modify-write), and one
    per stream with the versions it saw in order."""

    name = "test.tally"

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        tally = tx.collection("tally")
        shared = await tally.get("all") or {"n": 0}
        count = shared["n"]
        assert isinstance(count, int)
        await tally.put("all", {"n": count + 1})
        mine = await tally.get(e.stream) or {"seen": []}
        seen = mine["seen"]
        assert isinstance(seen, list)
        await tally.put(e.stream, {"seen": [*seen, e.version]})


def streams_in(lane: tuple[int, ...], count: int) -> list[str]:
    """``count`` stream ids whose partition is in ``lane``."""
    found = (f"board-{i}" for i in range(10_000))
    return [s for s in found if partition_of(id_of(s), PARTITIONS) in lane][:count]


class Lanes:
    def __init__(self, dsn: str, tmp: Path) -> None:
        self.journal = MemoryJournal()
        self.bus = MemoryBus(PARTITIONS)
        self.relay = Relay(self.journal, self.bus)
        self.hosts = [
            new_host(
                self.journal,
                Tally(),
                data=tmp / f"lane{i}",
                batch_size=25,
                catalog=PostgresReadStores(dsn),
            )
            for i in range(len(LANES))
        ]

    async def start(self) -> None:
        await self.relay.start()
        for host, lane in zip(self.hosts, LANES, strict=True):
            feed_from_bus(host, self.bus, lane)
            await host.start()

    async def close(self) -> None:
        for host in self.hosts:
            await host.close()
        await self.relay.stop()

    def checkpoint(self) -> int:
        return load_checkpoint(self.hosts[0].runner("test.tally").store.conn)[0]

    async def settled(self, position: int) -> None:
        """Until the projection's checkpoint (the lowest lane's) reaches ``position``."""
        await _watch(lambda: self.checkpoint() >= position)


@pytest.fixture
async def lanes(dsn: str, tmp_path: Path) -> AsyncIterator[Lanes]:
    made = Lanes(dsn, tmp_path)
    await made.start()
    yield made
    await made.close()


async def _watch(check: Callable[[], bool]) -> None:
    """Until ``check()``: the state of the store or of a runner, not an event to await."""
    async with asyncio.timeout(30):
        while not check():  # noqa: ASYNC110 - watching a state, bounded by the timeout
            await asyncio.sleep(0.02)


async def _post(journal: MemoryJournal, streams: list[str], rounds: int) -> int:
    position = 0
    for r in range(rounds):
        for stream in streams:
            position = await append(journal, stream, Noted(f"{stream}/{r}", 1))
        await asyncio.sleep(0)
    return position


async def test_two_lanes_apply_every_event_once_into_one_store(lanes: Lanes) -> None:
    streams = streams_in(LANES[0], 6) + streams_in(LANES[1], 6)
    head = await _post(lanes.journal, streams, 25)
    await lanes.settled(head)
    reader = lanes.hosts[1].reader("test.tally").collection("tally")
    assert await reader.get("all") == {"n": 12 * 25}  # no lost update between the lanes
    for stream in streams:
        assert await reader.get(stream) == {"seen": list(range(1, 26))}
    both = [h.runner("test.tally").position for h in lanes.hosts]
    assert min(both) == head


async def test_the_checkpoint_is_the_lowest_lane_and_an_idle_lane_follows_the_relay(
    lanes: Lanes,
) -> None:
    busy = streams_in(LANES[0], 3)
    head = await _post(lanes.journal, busy, 10)  # nothing for the second lane at all
    await lanes.settled(head)  # it marked itself idle at the relay's checkpoint
    idle = lanes.hosts[1].runner("test.tally")
    assert idle.position >= head
    # read-your-writes through the lane that had nothing to do
    position = await append(lanes.journal, busy[0], Noted("late", 1))
    await lanes.hosts[1].wait_for(position, timeout=10)
    await lanes.settled(position)


async def test_a_stalled_lane_holds_the_checkpoint_back(lanes: Lanes) -> None:
    first, second = streams_in(LANES[0], 2), streams_in(LANES[1], 2)
    head = await _post(lanes.journal, first + second, 3)
    await lanes.settled(head)
    await lanes.hosts[1].runner("test.tally").stop()  # the second lane's projector is down
    late = await _post(lanes.journal, second, 1)
    after = await _post(lanes.journal, first, 5)
    await _watch(lambda: lanes.hosts[0].runner("test.tally").position >= after)
    assert lanes.checkpoint() < late  # the first lane's progress does not speak for it
    await lanes.hosts[1].runner("test.tally").start()
    await lanes.settled(after)


async def test_a_rebuild_in_one_lane_swaps_under_the_other(lanes: Lanes) -> None:
    streams = streams_in(LANES[0], 4) + streams_in(LANES[1], 4)
    head = await _post(lanes.journal, streams, 10)
    await lanes.settled(head)
    writing = asyncio.create_task(_post(lanes.journal, streams, 10))
    await lanes.hosts[0].rebuild("test.tally")
    last = await writing
    last = max(last, await _post(lanes.journal, streams, 2))
    other = lanes.hosts[1]
    moved = lanes.hosts[0].runner("test.tally").store.location
    await _watch(lambda: other.runner("test.tally").store.location == moved)  # followed the swap
    await lanes.settled(last)
    reader = lanes.hosts[0].reader("test.tally").collection("tally")
    assert await reader.get("all") == {"n": 8 * 22}
    for stream in streams:
        assert await reader.get(stream) == {"seen": list(range(1, 23))}


def test_a_new_split_keeps_the_partitions_nobody_runs_holding_the_checkpoint(
    dsn: str,
) -> None:
    catalog = PostgresReadStores(dsn)
    store = catalog.open("test.split", 1)
    conn = store.conn
    Lane((0, 1, 2, 3, 4, 5, 6, 7)).save(conn, "test.split", 10, 1)
    Lane(tuple(range(8, 16))).save(conn, "test.split", 20, 2)
    assert load_checkpoint(conn)[0] == 10
    conn.execute("BEGIN")
    assert Lane((0, 1, 2, 3)).load(conn) == (10, 2)  # starts where the projection stands
    conn.execute("COMMIT")
    rows = dict(conn.execute("SELECT lane, position FROM kiroku_lanes").fetchall())
    assert rows == {"0-3": 10, "4-7": 10, "8-15": 20}  # 4-7: nobody runs them now
    Lane((0, 1, 2, 3)).save(conn, "test.split", 30, 3)
    assert load_checkpoint(conn)[0] == 10  # held back by 4-7
    store.close()
    catalog.close()
