"""Idempotency keys, passivation, snapshots, retention and point-in-time state."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar

import msgspec
import pytest
from test_runtime import (
    REGISTRY,
    Account,
    AccountDecider,
    Deposit,
    Deposited,
    Open,
    make,
)

from kiroku import (
    Codec,
    DecodeError,
    InputError,
    JournalError,
    MemoryJournal,
    RecoveryError,
    Retention,
    Snapshot,
    UnknownEventTypeError,
)
from kiroku.domain.decider import SnapshotUpcaster
from kiroku.domain.envelope import JSON
from kiroku.runtime import Runtime


async def until(condition: object, what: str) -> None:
    """Wait (bounded by iterations, not by a clock) until ``condition()`` holds."""
    for _ in range(500):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_a_retried_key_returns_the_first_result_and_appends_nothing() -> None:
    journal = MemoryJournal()
    async with make(journal) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        first = await runtime.execute(AccountDecider, "a1", Deposit(5), idempotency_key="k1")
        again = await runtime.execute(AccountDecider, "a1", Deposit(5), idempotency_key="k1")
        other = await runtime.execute(AccountDecider, "a1", Deposit(5), idempotency_key="k2")
    assert again == replace(first, duplicate=True)
    assert other.version == 3
    assert await journal.stream_version("account-a1") == 3


async def test_keys_survive_a_restart() -> None:
    journal = MemoryJournal()
    async with make(journal) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        first = await runtime.execute(AccountDecider, "a1", Deposit(5), idempotency_key="k1")
        await runtime.execute(AccountDecider, "a1", Deposit(1))
    async with make(journal) as restarted:
        again = await restarted.execute(AccountDecider, "a1", Deposit(5), idempotency_key="k1")
    assert again == replace(first, duplicate=True)
    assert await journal.stream_version("account-a1") == 3


async def test_keys_survive_retention_deleting_their_events() -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=1, retention=Retention()) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        first = await runtime.execute(AccountDecider, "a1", Deposit(5), idempotency_key="k1")
        await runtime.execute(AccountDecider, "a1", Deposit(1))
    assert await journal.read_stream("account-a1") == []  # all behind the snapshot: deleted
    async with make(journal, snapshot_every=1, retention=Retention()) as restarted:
        again = await restarted.execute(AccountDecider, "a1", Deposit(5), idempotency_key="k1")
        assert await restarted.state(AccountDecider, "a1") == Account("ann", 6)
    assert (again.version, again.first_position, again.position) == (2, 2, 2)
    assert (again.version, again.position) == (first.version, first.position)
    assert again.duplicate
    assert again.events == ()  # the events themselves were deleted; the receipt survived
    assert await journal.stream_version("account-a1") == 3


async def test_an_idle_actor_is_passivated_and_recovers_on_the_next_command() -> None:
    journal = MemoryJournal()
    async with make(journal, idle_timeout=0.01) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        await until(lambda: runtime.live == 0, "the idle actor is passivated")
        result = await runtime.execute(AccountDecider, "a1", Deposit(2))
    assert (result.version, result.state) == (2, Account("ann", 2))


async def test_the_least_recently_used_idle_actor_is_passivated_over_max_live() -> None:
    async with make(MemoryJournal(), max_live=2, idle_timeout=None) as runtime:
        for ident in ("a1", "b2"):
            await runtime.execute(AccountDecider, ident, Open(ident))
        await runtime.execute(AccountDecider, "a1", Deposit(1))  # b2 is now the LRU one
        await runtime.execute(AccountDecider, "c3", Open("c3"))
        assert runtime.live == 2
        assert not runtime.is_live(AccountDecider, "b2")
        assert runtime.is_live(AccountDecider, "a1")
        assert (await runtime.execute(AccountDecider, "b2", Deposit(7))).state == Account("b2", 7)


async def test_snapshots_are_taken_every_n_events_and_recovery_uses_them() -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=3) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        for n in range(6):
            await runtime.execute(AccountDecider, "a1", Deposit(n))
    snapshot = await journal.load_snapshot("account-a1")
    assert snapshot is not None
    assert snapshot.version == 6
    await journal.delete_before("account-a1", 7)  # only the snapshot can explain events 1-6
    async with make(journal) as restarted:
        assert await restarted.state(AccountDecider, "a1") == Account("ann", 15)


class AccountV2(AccountDecider):
    """The state's shape changed: owners are now stored in capitals."""

    state_version = 2
    snapshot_upcasters: ClassVar[dict[int, SnapshotUpcaster]] = {}


def _capitalise(data: dict[str, JSON]) -> dict[str, JSON]:
    return {**data, "owner": str(data["owner"]).upper()}


AccountV2.snapshot_upcasters[1] = _capitalise


class AccountV3(AccountDecider):
    state_version = 3


async def _snapshotted_then_deleted(journal: MemoryJournal) -> None:
    async with make(journal, snapshot_every=2, retention=Retention(keep=0)) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        await runtime.execute(AccountDecider, "a1", Deposit(3))
        await runtime.execute(AccountDecider, "a1", Deposit(4))


async def test_an_old_snapshot_is_upcast_through_the_decider_chain(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = MemoryJournal()
    await _snapshotted_then_deleted(journal)
    runtime = Runtime(journal, [AccountV2()], codec=Codec(REGISTRY))
    with caplog.at_level(logging.INFO):
        state = await runtime.state(AccountV2, "a1")
    await runtime.close()
    assert state == Account("ANN", 7)  # the upcaster ran: events alone would say "ann"
    assert "upcast snapshot at version 2 from state_version 1 to 2" in caplog.text


async def test_a_snapshot_without_an_upcaster_is_ignored_for_the_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=2) as runtime:
        for command in (Open("ann"), Deposit(3), Deposit(4)):
            await runtime.execute(AccountDecider, "a1", command)
    assert await journal.load_snapshot("account-a1") is not None
    with caplog.at_level(logging.INFO):
        async with Runtime(journal, [AccountV3()], codec=Codec(REGISTRY)) as v3:
            assert await v3.state(AccountV3, "a1") == Account("ann", 7)
    assert "ignoring it and rebuilding from events" in caplog.text


async def test_an_unusable_snapshot_with_deleted_events_is_a_recovery_error() -> None:
    journal = MemoryJournal()
    await _snapshotted_then_deleted(journal)
    async with Runtime(journal, [AccountV3()], codec=Codec(REGISTRY)) as v3:
        with pytest.raises(RecoveryError, match=r"account-a1: events 1\.\.2 were deleted"):
            await v3.state(AccountV3, "a1")
    everything = MemoryJournal()
    async with make(everything, snapshot_every=1, retention=Retention()) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        await runtime.execute(AccountDecider, "a1", Deposit(3))
    async with Runtime(everything, [AccountV3()], codec=Codec(REGISTRY)) as v3:
        with pytest.raises(RecoveryError, match=r"account-a1: events 1\.\.2 were deleted"):
            await v3.state(AccountV3, "a1")


async def test_state_at_a_version_or_a_time_ignores_later_snapshots() -> None:
    journal = MemoryJournal()
    async with make(journal, snapshot_every=4) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        for n in (10, 20, 30, 40):
            await runtime.execute(AccountDecider, "a1", Deposit(n))
        third = (await journal.read_stream("account-a1", 3, 3))[0]
        assert await runtime.state_at(AccountDecider, "a1", version=2) == Account("ann", 10)
        at = await runtime.state_at(AccountDecider, "a1", at=third.occurred_at)
        assert at == Account("ann", 30)
        assert await runtime.state_at(AccountDecider, "a1") == Account("ann", 100)
        assert await runtime.state_at(AccountDecider, "nobody") == Account()


class SnapshotlessJournal(MemoryJournal):
    async def save_snapshot(self, snapshot: Snapshot) -> None:
        raise JournalError(f"disk full while saving a snapshot of {snapshot.stream}")


async def test_a_failed_snapshot_never_fails_the_command(caplog: pytest.LogCaptureFixture) -> None:
    journal = SnapshotlessJournal()
    with caplog.at_level(logging.ERROR):
        async with make(journal, snapshot_every=1) as runtime:
            result = await runtime.execute(AccountDecider, "a1", Open("ann"))
    assert result.version == 1
    assert "account-a1: snapshot at version 1 failed" in caplog.text


async def test_a_foreign_deposit_is_folded_into_the_recovered_state() -> None:
    journal = MemoryJournal()
    codec = Codec(REGISTRY)
    await journal.append("account-a1", 0, [codec.encode(Deposited(1))])
    async with make(journal) as runtime:
        assert await runtime.state(AccountDecider, "a1") == Account("", 1)


async def test_undecodable_history_is_a_schema_error_not_a_crash() -> None:
    journal = MemoryJournal()
    codec = Codec(REGISTRY)
    good = codec.encode(Deposited(1))
    await journal.append("account-a1", 0, [good])
    await journal.append(
        "account-a1", 1, [msgspec.structs.replace(good, event_id=uuid.uuid4(), data=b'{"x":1}')]
    )
    await journal.append(
        "account-b2", 0, [msgspec.structs.replace(good, event_id=uuid.uuid4(), type="t.nope")]
    )
    async with make(journal) as runtime:
        with pytest.raises(DecodeError, match=r"'t.account.Deposited' v1 at position 2"):
            await runtime.state(AccountDecider, "a1")
        with pytest.raises(UnknownEventTypeError, match=r"'t.nope' at position 3"):
            await runtime.state(AccountDecider, "b2")


async def test_state_at_needs_an_aware_time_and_starts_from_nothing() -> None:
    journal = MemoryJournal()
    async with make(journal) as runtime:
        result = await runtime.execute(AccountDecider, "a1", Open("ann"))
        before = result.events[0].occurred_at - timedelta(seconds=1)
        assert await runtime.state_at(AccountDecider, "a1", at=before) == Account()
        with pytest.raises(InputError, match="timezone-aware"):
            await runtime.state_at(AccountDecider, "a1", at=datetime(2026, 1, 1))
