"""Snapshots do not hold up the actor, and their interval grows with the history."""

from __future__ import annotations

import asyncio

from test_runtime import REGISTRY, AccountDecider, Deposit, Open, make

from kiroku import Codec, MemoryJournal
from kiroku.journal.protocol import Snapshot
from kiroku.runtime.settings import Settings
from kiroku.runtime.snapshots import Snapshotter


class SlowSnapshots(MemoryJournal):
    """A real in-memory journal whose snapshot writes wait for a gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.saved: list[int] = []

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        await self.gate.wait()
        await super().save_snapshot(snapshot)
        self.saved.append(snapshot.version)


async def test_commands_are_answered_while_a_snapshot_is_being_written() -> None:
    journal = SlowSnapshots()
    async with make(journal, snapshot_every=2) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        await runtime.execute(AccountDecider, "a1", Deposit(1))  # version 2: a snapshot starts
        for i in range(5):  # answered although the snapshot cannot be written yet
            await asyncio.wait_for(runtime.execute(AccountDecider, "a1", Deposit(i)), 5)
        assert journal.saved == []
        journal.gate.set()
    # closing waited for the snapshots in flight: the first, then the newest asked for
    assert journal.saved == [2, 6]
    snapshot = await journal.load_snapshot("account-a1")
    assert snapshot is not None
    assert snapshot.version == 6


def test_the_interval_grows_to_a_tenth_of_the_history() -> None:
    """So a snapshot of n items costs O(1) per event, however large n gets."""
    settings = Settings(snapshot_every=10)
    snapshotter = Snapshotter(MemoryJournal(), Codec(REGISTRY), AccountDecider(), "a-1", settings)
    for last, first_due in [(0, 10), (95, 105), (100, 110), (350, 385), (1_000_000, 1_100_000)]:
        snapshotter.recovered(last)
        assert not snapshotter.due(first_due - 1)
        assert snapshotter.due(first_due)
