"""Rebuilds driven by the journal: a runner meeting a retraction notes "rebuild
needed" with its checkpoint and tells its host, which rebuilds once, durably."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from kits.hosts import HostMaker
from kits.till import CODEC, Noted, Sold, Total, sell, total

from kiroku import MemoryJournal
from kiroku.corrections import (
    CompensationWindow,
    ManualClock,
    RetractionService,
)
from kiroku.projections import (
    FailurePolicy,
    Progress,
    ProjectionRunner,
    ProjectionStore,
)
from kiroku.projections.rebuild_needed import pending_rebuild


class Calls:
    """A hook that only counts: the rebuild is left to the test."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, name: str) -> None:
        self.names.append(name)


async def retract(journal: MemoryJournal, position: int) -> int:
    service = RetractionService(
        journal, clock=ManualClock(), window=CompensationWindow(timedelta(hours=24))
    )
    report = await service.retract(position, reason="wrong", by="ops")
    return report.retraction.position


async def test_the_note_is_written_with_the_checkpoint_and_a_new_host_rebuilds(
    make_host: HostMaker,
) -> None:
    journal = MemoryJournal()
    wrong = await sell(journal, "till-1", Sold(500))
    await sell(journal, "till-2", Sold(7))
    calls = Calls()
    crashed = make_host(journal, Total(), on_rebuild_needed=calls, codec=CODEC)
    await crashed.catch_up()
    at = await retract(journal, wrong)
    await crashed.catch_up()
    runner = crashed.runner("total")
    assert pending_rebuild(runner.store.conn) == [at]
    assert runner.position == at  # committed together
    assert calls.names == ["total"]  # told once, after the commit; then "crashed"
    assert (await runner.status()).rebuild_pending
    await crashed.close()

    host = make_host(journal, Total(), codec=CODEC)
    await host.start()  # finds the note and rebuilds on its own
    await host.rebuilds.join()
    assert await total(host) == 7
    assert host.stores.generation("total") == 2
    assert not host.rebuild_pending("total")
    assert not (await host.status())[0].rebuild_pending


async def test_two_retractions_in_one_batch_cause_one_rebuild(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    first = await sell(journal, "till-1", Sold(500))
    second = await sell(journal, "till-2", Sold(60))
    await sell(journal, "till-3", Sold(7))
    calls = Calls()
    host = make_host(journal, Total(), on_rebuild_needed=calls, codec=CODEC)
    await host.catch_up()
    noted = [await retract(journal, first), await retract(journal, second)]
    await host.catch_up()  # both retractions in one batch
    assert pending_rebuild(host.runner("total").store.conn) == noted
    assert calls.names == ["total"]
    assert await host.rebuild_if_pending("total")
    assert await total(host) == 7
    # one rebuild: its shadow met both retractions with their originals masked
    assert host.stores.generation("total") == 2
    assert not host.rebuild_pending("total")


async def test_a_redelivered_retraction_is_noted_and_told_once(tmp_path: Path) -> None:
    journal = MemoryJournal()
    wrong = await sell(journal, "till-1", Sold(500))
    at = await retract(journal, wrong)
    calls = Calls()
    store = ProjectionStore(tmp_path / "total.db", "total")
    runner = ProjectionRunner(Total(), journal, store, codec=CODEC, on_rebuild_needed=calls)
    await runner.open()
    batch = await journal.read_all(0, 10)
    await runner.process(batch)
    await runner.process(batch)  # at-least-once delivery
    assert pending_rebuild(store.conn) == [at]
    assert calls.names == ["total"]
    store.close()


async def test_a_rolled_back_batch_notes_nothing_its_committed_prefix_notes_once(
    tmp_path: Path,
) -> None:
    journal = MemoryJournal()
    wrong = await sell(journal, "till-1", Sold(500))
    at = await retract(journal, wrong)
    await sell(journal, "till-2", Sold(-1))  # fails: the batch is rolled back, then its prefix
    calls = Calls()
    store = ProjectionStore(tmp_path / "total.db", "total")
    policy = FailurePolicy(attempts=1, on_exhausted="continue")
    runner = ProjectionRunner(
        Total(), journal, store, codec=CODEC, policy=policy, on_rebuild_needed=calls
    )
    await runner.run(follow=False)
    assert pending_rebuild(store.conn) == [at]
    assert calls.names == ["total"]
    assert runner.parked_count == 1
    store.close()


async def test_a_retraction_of_a_type_never_handled_needs_no_rebuild(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    note = await sell(journal, "note-1", Noted("hello"))
    await sell(journal, "till-1", Sold(7))
    calls = Calls()
    host = make_host(journal, Total(), on_rebuild_needed=calls, codec=CODEC)
    await host.catch_up()
    await retract(journal, note)
    await host.catch_up()
    assert calls.names == []
    assert not host.rebuild_pending("total")


async def test_a_retraction_during_a_rebuild_ends_excluded_too(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    first = await sell(journal, "till-1", Sold(500))
    late = await sell(journal, "till-2", Sold(60))
    for i in range(3, 8):
        await sell(journal, f"till-{i}", Sold(1))
    calls = Calls()
    host = make_host(journal, Total(), batch_size=1, on_rebuild_needed=calls, codec=CODEC)
    await host.catch_up()
    await retract(journal, first)
    await host.catch_up()
    appended: list[asyncio.Task[int]] = []

    def report(p: Progress) -> None:
        # the shadow has just applied ``late``: retract it while the rebuild goes on
        if p.position >= late and not appended:
            appended.append(asyncio.get_running_loop().create_task(retract(journal, late)))

    assert await host.rebuild_if_pending("total", report)
    assert appended
    await asyncio.gather(*appended)
    await host.catch_up()  # if the retraction came after the swap, the new runner meets it
    await host.rebuild_if_pending("total")  # and its note calls for the next rebuild
    assert await total(host) == 5
    assert not host.rebuild_pending("total")
    # the shadow had applied ``late`` unmasked, so one more rebuild followed
    assert host.stores.generation("total") == 3
    await host.close()


async def test_shadow_runners_never_call_the_hook(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    wrong = await sell(journal, "till-1", Sold(500))
    await sell(journal, "till-2", Sold(7))
    await retract(journal, wrong)
    calls = Calls()
    host = make_host(journal, Total(), on_rebuild_needed=calls, codec=CODEC)
    async with host.as_of("total", await journal.head_position()):
        pass  # its temporary runner meets the retraction with no hook
    await host.rebuild("total")  # its shadow reads the retraction too
    assert calls.names == []
    assert await total(host) == 7
    assert not host.rebuild_pending("total")


async def test_the_hook_can_be_set_after_the_host_is_built(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    wrong = await sell(journal, "till-1", Sold(500))
    host = make_host(journal, Total(), codec=CODEC)
    calls = Calls()
    host.on_rebuild_needed = calls  # as a server does once its task list exists
    await host.catch_up()
    await retract(journal, wrong)
    await host.catch_up()
    assert calls.names == ["total"]
    assert host.rebuilds.tasks == {}
    assert await host.rebuild_if_pending("total")
    assert not await host.rebuild_if_pending("total")  # nothing left: no second rebuild
    assert host.stores.generation("total") == 2
