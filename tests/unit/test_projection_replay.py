"""Replay one projection, rebuild without downtime, and read models as of the past."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from kits.domain import CODEC, Boards, Counts, Noted, Opened, append
from kits.hosts import HostMaker

from kiroku import ANY, InputError, MemoryJournal, ParkedEventError, Recorded
from kiroku.projections import (
    FailurePolicy,
    Progress,
    Projection,
    ProjectionHost,
    Tx,
    handles,
)
from kiroku.projections.generations import ReadStores

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class Weights(Projection):
    """One document per note; ``factor`` stands for a bug fixed between runs."""

    name = "test.weights"
    replay_safe = True  # one document per position
    factor = 2

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        await tx.collection("w").put(str(e.position), {"w": e.data.weight * self.factor})


async def dated_journal(n: int) -> MemoryJournal:
    """``n`` notes of weight 1 on one board, one minute apart from T0."""
    journal = MemoryJournal()
    for i in range(n):
        when = T0 + timedelta(minutes=i)
        await journal.append("board-1", ANY, [CODEC.encode(Noted(str(i)), occurred_at=when)])
    return journal


async def weights(host: ProjectionHost) -> list[object]:
    docs = await host.reader("test.weights").collection("w").query(order_by="id")
    return [d["w"] for d in docs]


async def test_replay_fixes_one_projection_from_a_point_and_leaves_others_alone(
    make_host: HostMaker,
) -> None:
    journal = await dated_journal(6)
    weights_p, counts = Weights(), Counts()
    host = make_host(journal, weights_p, counts)
    await host.catch_up()
    before = host.runner("test.counts").store.rows("SELECT * FROM kiroku_checkpoint")
    counted = await host.reader("test.counts").query("SELECT n FROM note_counts")
    assert await weights(host) == [2] * 6
    weights_p.factor = 1  # the bug is fixed and deployed
    first = await host.replay("test.weights", T0 + timedelta(minutes=3))
    assert first == 4
    assert host.runner("test.weights").position == 3
    await host.catch_up(["test.weights"])
    assert await weights(host) == [2, 2, 2, 1, 1, 1]
    assert host.runner("test.counts").store.rows("SELECT * FROM kiroku_checkpoint") == before
    assert await host.reader("test.counts").query("SELECT n FROM note_counts") == counted


async def test_replay_refuses_positions_and_times_outside_the_journal(make_host: HostMaker) -> None:
    journal = await dated_journal(3)
    host = make_host(journal, Weights())
    await host.catch_up()
    with pytest.raises(InputError, match=r"position 4 is outside the journal \(1..3\)"):
        await host.replay("test.weights", 4)
    with pytest.raises(InputError, match="before the first event"):
        await host.replay("test.weights", T0 - timedelta(seconds=1))
    with pytest.raises(InputError, match="outside the journal"):
        await host.replay("test.weights", T0 + timedelta(hours=1))
    assert host.runner("test.weights").position == 3  # untouched


async def test_rebuild_swaps_with_no_window_in_which_reads_fail(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    for i in range(300):
        await append(journal, f"board-{i}", Opened(f"t{i}"))
    host = make_host(journal, Boards(), batch_size=20)
    await host.start()
    await host.wait_for(300)
    seen: list[int] = []
    done = asyncio.Event()

    async def keep_reading() -> None:
        while not done.is_set():
            seen.append(await host.reader("test.boards").collection("boards").count())
            await asyncio.sleep(0)

    reading = asyncio.create_task(keep_reading())
    reports: list[Progress] = []
    writer = asyncio.create_task(append(journal, "board-new", Opened("during")))
    await host.rebuild("test.boards", reports.append)
    await writer
    position = await append(journal, "board-after", Opened("after"))
    await host.wait_for(position)
    done.set()
    await reading
    assert min(seen) >= 300
    assert len(seen) > 5
    assert await host.reader("test.boards").collection("boards").count() == 302
    assert host.stores.generation("test.boards") == 2
    assert host.runner("test.boards").store.location.endswith("test.boards.g2.db")
    assert reports
    assert reports[-1].position == reports[-1].target
    assert all(r.events_per_second > 0 for r in reports)


async def test_a_read_model_as_of_a_position_or_a_time(make_host: HostMaker) -> None:
    journal = await dated_journal(5)
    host = make_host(journal, Weights())
    await host.catch_up()
    async with host.as_of("test.weights", 2) as view:
        assert await view.collection("w").count() == 2
    async with host.as_of("test.weights", T0 + timedelta(minutes=3, seconds=30)) as view:
        assert await view.collection("w").count() == 4
    async with host.as_of("test.weights", T0 - timedelta(days=1)) as view:
        assert await view.collection("w").count() == 0
    with pytest.raises(InputError, match="outside the journal"):
        async with host.as_of("test.weights", 99):
            pass
    assert await host.reader("test.weights").collection("w").count() == 5  # live untouched


class Poisoned(Weights):
    name = "test.poisoned"
    poisoned = False

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        if self.poisoned and e.data.text == "2":
            raise ValueError("a bug in the new version")
        await Weights.noted(self, tx, e)


async def test_a_rebuild_that_stops_on_a_poisoned_event_leaves_the_old_one_serving(
    make_host: HostMaker,
) -> None:
    journal = await dated_journal(5)
    projection = Poisoned()
    policy = FailurePolicy(attempts=1, on_exhausted="stop")
    host = make_host(journal, projection, default_policy=policy)
    await host.start()
    await host.wait_for(5)
    projection.poisoned = True
    with pytest.raises(ParkedEventError, match=r"rebuild abandoned.*a bug in the new version"):
        await host.rebuild("test.poisoned")
    assert host.stores.generation("test.poisoned") == 1
    stores = host.stores
    assert isinstance(stores, ReadStores)
    assert not stores.path("test.poisoned", 2).exists()
    assert await host.reader("test.poisoned").collection("w").count() == 5
    assert host.runner("test.poisoned").running
