"""The shared journal read over a journal that delivers out of position order.

The PostgreSQL journal delivers by ``(transaction, position)``: an event numbered
earlier may come after one numbered later (a group-commit transaction that took
its first position before another transaction's, and the rest after), and a
reader's place is the *last event it took*, not the highest position it saw
(docs/journal.md, "The cursor"). ``DeliveryJournal`` reproduces exactly that:
events become visible when a "transaction" commits, always after everything
delivered so far, and ``read_all(p)`` continues after the event at ``p`` in
delivery order. The runners of a host share one read of it (``SharedFeed``):
each must take every event once, in that order, like a runner reading alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from kits.domain import Boards, Noted, Notes, Opened
from kits.hosts import HostMaker

from kiroku import MemoryJournal
from kiroku.domain.envelope import StoredEvent
from kiroku.journal.protocol import ANY
from kiroku.projections.feed import FeedSource, SharedFeed

from kits.domain import CODEC  # isort: skip


class DeliveryJournal(MemoryJournal):
    """The memory journal, delivering only what ``commit`` released, in its order."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[int] = []  # positions in delivery order
        self._committed = asyncio.Event()

    def commit(self, positions: Sequence[int]) -> None:
        self.order.extend(positions)
        self._committed.set()
        self._committed = asyncio.Event()

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        if after_position == 0:
            start = 0
        elif after_position in self.order:
            start = self.order.index(after_position) + 1
        else:  # as PostgreSQL's cursor_at: the event before it in position order
            earlier = [p for p in self.order if p < after_position]
            start = self.order.index(max(earlier)) + 1 if earlier else 0
        return [await self.get_event(p) for p in self.order[start : start + limit]]

    def subscribe(
        self, after_position: int = 0, batch_size: int = 1000
    ) -> AsyncIterator[list[StoredEvent]]:
        return self._follow(after_position, batch_size)

    async def _follow(self, after: int, batch_size: int) -> AsyncIterator[list[StoredEvent]]:
        while True:
            committed = self._committed
            batch = await self.read_all(after, batch_size)
            if batch:
                after = batch[-1].position
                yield batch
            else:
                await committed.wait()

    async def read_order(self, positions: Sequence[int]) -> dict[int, tuple[int, int]]:
        return {p: (self.order.index(p), p) for p in positions if p in self.order}


async def _append(journal: DeliveryJournal, stream: str, event: object) -> int:
    result = await journal.append(stream, ANY, CODEC.encode_all([event]))
    return result.position


async def _interleaved(journal: DeliveryJournal, rounds: int) -> list[int]:
    """Per round: a transaction takes a position, another takes the next two, the first
    takes one more and commits first: delivery 1, 4, 2, 3 (as positions go)."""
    delivered: list[int] = []
    for r in range(rounds):
        first = await _append(journal, f"board-a{r}", Opened("a"))
        others = [await _append(journal, f"board-b{r}", Opened("b")),
                  await _append(journal, f"board-c{r}", Opened("c"))]  # fmt: skip
        last = await _append(journal, f"board-a{r}", Noted(f"a{r}", 1))
        journal.commit([first, last])
        await asyncio.sleep(0)
        journal.commit(others)
        delivered += [first, last, *others]
        await asyncio.sleep(0)
    return delivered


async def test_runners_on_one_feed_take_every_event_once_in_delivery_order(
    make_host: HostMaker,
) -> None:
    journal = DeliveryJournal()
    host = make_host(journal, Boards(), Notes(), batch_size=3)
    await host.start()
    delivered = await _interleaved(journal, 12)
    await host.wait_for(delivered[-1], timeout=10)
    boards = await host.reader("test.boards").collection("boards").count()
    assert boards == 3 * 12  # every stream opened, none skipped
    notes = await host.reader("test.notes").collection("notes").query()
    assert len(notes) == 12
    assert host.runner("test.boards").duplicates == 0  # nothing delivered twice either


async def test_a_feed_source_reads_what_a_lone_reader_reads() -> None:
    journal = DeliveryJournal()
    delivered = await _interleaved(journal, 6)
    for batch_size in (1, 2, 3, 5):
        feed = SharedFeed(journal, batch_size)
        taken: list[int] = []
        source = FeedSource(feed, batch_size).batches(0)
        async with asyncio.timeout(10):
            while len(taken) < len(delivered):
                taken += [e.position for e in await anext(source)]
        await source.aclose()
        await feed.close()
        assert taken == delivered, batch_size
