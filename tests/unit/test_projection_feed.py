"""One journal read shared by a host's runners: fewer reads, the same read models.

The runners of a host take their batches from one ``SharedFeed``; a runner
behind the batches the feed keeps (a replay, a rebuild's shadow) reads the
journal itself and comes back to the feed once it catches up.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from kits.domain import CODEC, Boards, Counts, Noted, Notes, Opened, append
from kits.hosts import HostMaker

from kiroku import Journal, MemoryJournal, SQLiteJournal
from kiroku.domain.envelope import Recorded, StoredEvent
from kiroku.journal.protocol import ANY
from kiroku.projections.feed import KEEP_BATCHES, FeedSource, SharedFeed


class CountingJournal(MemoryJournal):
    """The memory journal, counting the batches read from it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        found = await super().read_all(after_position, limit)
        self.reads += bool(found)
        return found


async def board(journal: Journal, notes: int, stream: str = "board-1") -> int:
    """Appended one event at a time: one commit, one wake-up each."""
    events = [Opened("b"), *(Noted(f"n{i}", weight=i) for i in range(notes))]
    last = 0
    for event in events:
        last = (await journal.append(stream, ANY, CODEC.encode_all([event]))).position
    return last


async def test_runners_at_one_position_read_each_batch_once(make_host: HostMaker) -> None:
    journal = CountingJournal()
    host = make_host(journal, Boards(), Notes(), Counts(), batch_size=1000)
    await host.start()
    for i in range(20):  # appended one at a time, woken one at a time
        await host.wait_for(await board(journal, 1, f"board-{i}"))
    assert host.feed.stats.served >= 3 * host.feed.stats.reads  # each read went to 3 runners
    assert journal.reads <= host.feed.stats.reads + host.feed.stats.own_reads
    assert host.feed.stats.own_reads <= 3  # at most a first read each, before the feed ran


async def test_the_shared_read_gives_what_reading_alone_gives(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    shared = make_host(journal, Boards(), Counts(), batch_size=3)
    await shared.start()
    for i in range(5):
        await board(journal, 4, f"board-{i}")
    head = await journal.head_position()
    await shared.wait_for(head)
    alone = make_host(journal, Boards(), Counts(), batch_size=3)
    await alone.catch_up()
    for name in ("test.boards", "test.counts"):
        assert shared.runner(name).position == alone.runner(name).position == head
    for i in range(5):
        doc = await shared.reader("test.boards").collection("boards").get(f"{i}")
        assert doc == await alone.reader("test.boards").collection("boards").get(f"{i}")
        assert doc is not None
        assert doc["total"] == 6
    rows = "SELECT stream, n FROM note_counts ORDER BY stream"
    counts = await shared.reader("test.counts").query(rows)
    assert counts == await alone.reader("test.counts").query(rows)
    assert len(counts) == 5


async def test_a_replaying_runner_reads_alone_then_rejoins_the_feed(
    make_host: HostMaker,
) -> None:
    journal = MemoryJournal()
    host = make_host(journal, Notes(), Boards(), batch_size=2)
    await host.start()
    head = await board(journal, 3 * KEEP_BATCHES)
    await host.wait_for(head)
    own = host.feed.stats.own_reads
    await host.replay("test.notes", 1, lambda p: None)  # far behind every kept batch
    assert host.feed.stats.own_reads > own
    served = host.feed.stats.served
    head = await board(journal, 2, "board-2")
    await host.wait_for(head)
    assert host.feed.stats.served > served  # back on the feed
    assert host.runner("test.notes").position == host.runner("test.boards").position == head
    assert len(await host.reader("test.notes").collection("notes").ids()) == 3 * KEEP_BATCHES + 2


async def test_a_slow_runner_takes_the_kept_batches_in_one(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    feed = SharedFeed(journal, batch_size=100)
    first = await board(journal, 0)
    source = FeedSource(feed, batch_size=100)
    fast = source.batches(0)
    assert [e.position for e in await anext(fast)] == [first]
    for i in range(4):  # the feed reads each append as its own batch
        await append(journal, "board-1", Noted(f"n{i}"))
        await anext(fast)
    slow = source.batches(first)
    assert len(await anext(slow)) == 4  # four kept batches, joined
    await fast.aclose()
    await slow.aclose()
    await feed.close()


async def test_the_runners_end_when_the_journal_closes(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    feed = SharedFeed(journal)
    waiting = FeedSource(feed).batches(0)
    await append(journal, "board-1", Opened("b"))
    assert len(await anext(waiting)) == 1
    await journal.close()
    assert await anext(waiting, None) is None
    await feed.close()


async def test_at_the_head_of_a_sqlite_journal_a_subscriber_reads_on_the_loop(
    make_host: HostMaker, tmp_path: Path
) -> None:
    journal = await SQLiteJournal.open(tmp_path / "journal.db")
    try:
        await board(journal, 9, "board-0")  # a catch-up: full batches, on the journal's threads
        shared = make_host(journal, Boards(), Counts(), batch_size=4)
        await shared.start()
        for i in range(1, 6):  # then a few events at a time: at the head
            await board(journal, 1, f"board-{i}")
            await shared.wait_for(await journal.head_position())
        assert 1 <= journal.reads_at_head < shared.feed.stats.reads  # a full batch: threads
        head = await journal.head_position()
        alone = make_host(journal, Boards(), Counts(), batch_size=4, data=tmp_path / "alone")
        await alone.catch_up()
        for name in ("test.boards", "test.counts"):
            assert shared.runner(name).position == alone.runner(name).position == head
            assert await shared.reader(name).dump() == await alone.reader(name).dump()
    finally:
        await journal.close()


async def test_runners_sharing_a_read_decode_each_event_once(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    host = make_host(journal, Boards(), Notes(), Counts(), batch_size=1000)
    decodes: list[int] = []
    real = CODEC.decode

    def counting(stored: StoredEvent) -> Recorded[object]:
        decodes.append(stored.position)
        return real(stored)

    CODEC.decode = counting  # type: ignore[method-assign]
    try:
        await host.start()
        for i in range(5):
            await host.wait_for(await board(journal, 1, f"board-{i}"))
    finally:
        del CODEC.decode
    assert sorted(decodes) == sorted(set(decodes))  # three runners, one decode each
    assert len(decodes) == await journal.head_position()


def _scanned(kept: list[tuple[int, list[int]]], after: int, limit: int) -> list[int] | None:
    """What ``batch_after`` answers, found by scanning the kept batches in order."""
    found: list[int] | None = None
    for start, batch in kept:
        if found is not None:
            if found and len(found) + len(batch) > limit:
                break
            found.extend(batch)
        elif start == after:
            found = list(batch)
        elif after in batch:
            found = batch[batch.index(after) + 1 :]
    return found[:limit] if found else None


class ScriptedJournal(MemoryJournal):
    """Delivers the batches it is given, in the order given, then waits (a live
    subscription with nothing more to deliver)."""

    def __init__(self, batches: list[list[int]]) -> None:
        super().__init__()
        self.script = batches
        self.delivered = asyncio.Event()

    async def subscribe(
        self, after_position: int = 0, batch_size: int = 1000
    ) -> AsyncIterator[list[StoredEvent]]:
        for batch in self.script:
            yield [_at(p) for p in batch]
        self.delivered.set()
        await asyncio.Event().wait()


def _at(position: int) -> StoredEvent:
    return StoredEvent(
        position, "s-1", position, "T", 1, b"{}", uuid.uuid4(), datetime.now(UTC), None, None, {}
    )


@settings(max_examples=60, deadline=None)
@given(
    order=st.permutations(range(1, 121)),
    cuts=st.lists(st.integers(1, 119), max_size=70, unique=True),
    limit=st.integers(1, 40),
)
def test_the_feed_finds_a_place_as_a_scan_of_its_kept_batches_does(
    order: list[int], cuts: list[int], limit: int
) -> None:
    """Positions in any order (PostgreSQL delivers by transaction), any batch sizes,
    more batches than are kept: the feed's dict answers what a scan answers."""
    edges = [0, *sorted(cuts), len(order)]
    batches = [order[a:b] for a, b in itertools.pairwise(edges)]

    async def check() -> None:
        journal = ScriptedJournal(batches)
        feed = SharedFeed(journal)
        await feed.next_after(0, 10_000)  # starts the feed, which reads every batch
        await journal.delivered.wait()
        await asyncio.sleep(0)  # the feed keeps the last batch after it is yielded
        starts = [0, *(b[-1] for b in batches[:-1])]
        kept = list(zip(starts, batches, strict=True))[-KEEP_BATCHES:]
        for after in [0, -5, *order]:
            got = feed.batch_after(after, limit)
            assert (None if got is None else [e.position for e in got]) == _scanned(
                kept, after, limit
            )
        await feed.close()

    asyncio.run(check())
