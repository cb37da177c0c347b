"""Snapshots do not hold up the actor, and their interval grows with the history."""

from __future__ import annotations

import asyncio

from test_runtime import AccountDecider, Deposit, Open, make

from kiroku import MemoryJournal
from kiroku.journal.protocol import Snapshot


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


async def test_the_interval_grows_to_a_tenth_of_the_history() -> None:
    """So a snapshot of n items costs O(1) per event, however large n gets."""
    journal = SlowSnapshots()
    journal.gate.set()
    async with make(journal, snapshot_every=10) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        for _ in range(399):
            await runtime.execute(AccountDecider, "a1", Deposit(1))
    # every 10 until 100, then every tenth of the last snapshot's version
    assert journal.saved[:10] == list(range(10, 101, 10))
    assert journal.saved[10:] == [
        110,
        121,
        133,
        146,
        160,
        176,
        193,
        212,
        233,
        256,
        281,
        309,
        339,
        372,
    ]
