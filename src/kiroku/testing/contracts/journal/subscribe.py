"""Subscriptions: woken by appends, every event once and in order, never skipping."""

from __future__ import annotations

import asyncio

import pytest

from kiroku.journal.protocol import (
    ANY,
    NO_STREAM,
    Journal,
)
from kiroku.testing.contracts.journal.base import (
    PATIENCE,
    SETTLE,
    JournalFixtures,
    close_iterator,
    new_events,
)

__all__ = ["SubscribeContract"]


class SubscribeContract(JournalFixtures):
    # -- subscribe -----------------------------------------------------------------

    async def test_subscribe_is_woken_by_an_append_while_waiting(self, journal: Journal) -> None:
        await journal.append("room-1", NO_STREAM, new_events(2))
        batches = journal.subscribe(0, batch_size=10)
        try:
            assert [e.version for e in await anext(batches)] == [1, 2]
            waiting = asyncio.ensure_future(anext(batches))
            done, _ = await asyncio.wait({waiting}, timeout=SETTLE)
            assert not done, "subscribe returned although nothing was appended"
            await journal.append("room-1", 2, new_events(1))
            batch = await asyncio.wait_for(waiting, PATIENCE)
            assert [(e.stream, e.version) for e in batch] == [("room-1", 3)]
        finally:
            await close_iterator(batches)

    async def test_subscribe_delivers_every_event_once_in_order(self, journal: Journal) -> None:
        writers, appends = 4, 10
        expected = writers * appends * 2
        batches = journal.subscribe(0, batch_size=7)

        async def collect() -> list[int]:
            seen: list[int] = []
            while len(seen) < expected:
                seen.extend(e.position for e in await anext(batches))
            return seen

        async def write(w: int) -> None:
            for _ in range(appends):
                await journal.append(f"writer-{w}", ANY, new_events(2))

        try:
            collector = asyncio.ensure_future(collect())
            await asyncio.gather(*(write(w) for w in range(writers)))
            seen = await asyncio.wait_for(collector, PATIENCE)
        finally:
            await close_iterator(batches)
        assert seen == list(range(seen[0], seen[0] + expected))

    @pytest.mark.parametrize("deleted", [False, True], ids=["caught-up", "past-deleted"])
    async def test_subscribe_ends_when_the_journal_closes(
        self, journal: Journal, deleted: bool
    ) -> None:
        if deleted:
            await journal.append("room-1", NO_STREAM, new_events(2))
            await journal.delete_before("room-1", 3)
        batches = journal.subscribe(0)
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.wait({waiting}, timeout=SETTLE)
        await journal.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, PATIENCE)

    async def test_subscribe_waits_past_deleted_events(self, journal: Journal) -> None:
        await journal.append("room-1", NO_STREAM, new_events(3))
        assert await journal.delete_before("room-1", 4) == 3
        batches = journal.subscribe(0)
        try:
            waiting = asyncio.ensure_future(anext(batches))
            done, _ = await asyncio.wait({waiting}, timeout=SETTLE)
            assert not done, "subscribe returned although nothing is left to read"
            await journal.append("room-1", 3, new_events(1))
            batch = await asyncio.wait_for(waiting, PATIENCE)
            assert [e.version for e in batch] == [4]
        finally:
            await close_iterator(batches)
