"""Aggregates recover as if retracted events had never happened."""

from __future__ import annotations

from datetime import timedelta

from test_runtime import AccountDecider, Deposit, Open, make

from kiroku import MemoryJournal
from kiroku.corrections import CompensationWindow, ManualClock, RetractionService
from kiroku.runtime import Runtime


def retractions(journal: MemoryJournal, runtime: Runtime | None = None) -> RetractionService:
    listeners = [runtime.on_retraction] if runtime is not None else []
    return RetractionService(
        journal,
        clock=ManualClock(),
        window=CompensationWindow(timedelta(hours=24)),
        listeners=listeners,
    )


async def test_recovery_after_a_retraction_excludes_the_retracted_effect() -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=None) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        wrong = await runtime.execute(AccountDecider, "a1", Deposit(500))
        await runtime.execute(AccountDecider, "a1", Deposit(7))
    await retractions(journal).retract(wrong.position, reason="typo", by="ops")
    async with make(journal, snapshot_every=None) as restarted:
        assert (await restarted.state(AccountDecider, "a1")).balance == 7
        after = await restarted.execute(AccountDecider, "a1", Deposit(1))
    assert (after.version, after.state.balance) == (5, 8)  # the retraction holds version 4


async def test_a_snapshot_taken_before_the_retraction_is_not_trusted() -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=3) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        wrong = await runtime.execute(AccountDecider, "a1", Deposit(500))
        await runtime.execute(AccountDecider, "a1", Deposit(7))
    snapshot = await journal.load_snapshot("account-a1")
    assert snapshot is not None
    assert snapshot.version == 3  # it contains the 500
    await retractions(journal).retract(wrong.position, reason="typo", by="ops")
    async with make(journal, snapshot_every=None) as restarted:
        assert (await restarted.state(AccountDecider, "a1")).balance == 7


async def test_a_snapshot_taken_after_the_retraction_is_used() -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=None) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        wrong = await runtime.execute(AccountDecider, "a1", Deposit(500))
    await retractions(journal).retract(wrong.position, reason="typo", by="ops")
    async with make(journal, snapshot_every=1) as runtime:
        result = await runtime.execute(AccountDecider, "a1", Deposit(2))
    assert (result.version, result.state.balance) == (4, 2)
    snapshot = await journal.load_snapshot("account-a1")
    assert snapshot is not None
    assert snapshot.version == 4
    async with make(journal) as restarted:
        assert (await restarted.state(AccountDecider, "a1")).balance == 2


async def test_the_live_actor_is_refreshed_by_the_retraction_listener() -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=None) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        wrong = await runtime.execute(AccountDecider, "a1", Deposit(500))
        assert (await runtime.state(AccountDecider, "a1")).balance == 500
        await retractions(journal, runtime).retract(wrong.position, reason="typo", by="ops")
        assert (await runtime.state(AccountDecider, "a1")).balance == 0
        after = await runtime.execute(AccountDecider, "a1", Deposit(3))
    assert (after.version, after.state.balance) == (4, 3)


async def test_an_unrefreshed_actor_catches_up_through_a_full_load() -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=None) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        wrong = await runtime.execute(AccountDecider, "a1", Deposit(500))
        await retractions(journal).retract(wrong.position, reason="typo", by="ops")
        after = await runtime.execute(AccountDecider, "a1", Deposit(3))  # conflicts, reloads
    assert (after.version, after.state.balance) == (4, 3)


async def test_refresh_of_a_stream_with_no_live_actor_is_a_no_op() -> None:
    async with make(MemoryJournal()) as runtime:
        assert runtime.refresh("account-nobody") is False


async def test_state_at_excludes_events_retracted_by_that_point() -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=2) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        wrong = await runtime.execute(AccountDecider, "a1", Deposit(500))
        await runtime.execute(AccountDecider, "a1", Deposit(7))
    await retractions(journal).retract(wrong.position, reason="typo", by="ops")
    async with make(journal) as runtime:
        before = await runtime.state_at(AccountDecider, "a1", version=3)
        now = await runtime.state_at(AccountDecider, "a1")
        at_retraction = await runtime.state_at(AccountDecider, "a1", version=4)
    assert before.balance == 507  # as history stood before the retraction
    assert now.balance == at_retraction.balance == 7
