"""The journal contract: one pytest suite every Journal backend must pass.

A backend proves itself by subclassing ``JournalContract`` and providing a
``journal_factory`` fixture: an async callable that opens a journal. Calling it
again must reopen *the same storage*; backends where that means anything (a
file, a database) set ``durable = True`` and the reopening tests run too::

    class TestSQLiteJournal(JournalContract):
        durable = True

        @pytest.fixture
        def journal_factory(self, tmp_path: Path) -> JournalFactory:
            return partial(SQLiteJournal.open, tmp_path / "journal.db")

Each test gets a fresh, empty journal (the ``journal`` fixture), and the
fixture closes it afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar, TypeAlias

import pytest

from kiroku.domain.envelope import Metadata, NewEvent, StoredEvent
from kiroku.errors import (
    EmptyAppendError,
    EventNotFoundError,
    InputError,
    InvalidStreamNameError,
    JournalClosedError,
    WrongExpectedVersionError,
)
from kiroku.journal.protocol import (
    ANY,
    NO_STREAM,
    AppendResult,
    ExpectedVersion,
    Journal,
    Snapshot,
)

__all__ = ["JournalContract", "JournalFactory", "new_events"]

JournalFactory: TypeAlias = Callable[[], Awaitable[Journal]]

SETTLE = 0.2  # seconds a subscriber gets to reach its wait before we check it is waiting
PATIENCE = 10.0  # seconds before a test gives up on a wake-up that should come at once


def new_events(
    count: int,
    start: int = 1,
    *,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
    metadata: Metadata | None = None,
) -> list[NewEvent]:
    """``count`` small test events whose data numbers them from ``start``."""
    return [
        NewEvent(
            "contract.Happened",
            1,
            b'{"n":%d}' % n,
            event_id=event_id or uuid.uuid4(),
            occurred_at=occurred_at or datetime.now(UTC),
            metadata=metadata or {},
        )
        for n in range(start, start + count)
    ]


async def _close_iterator(it: AsyncIterator[list[StoredEvent]]) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await aclose()


class JournalContract:
    durable: ClassVar[bool] = False

    @pytest.fixture
    def journal_factory(self) -> JournalFactory:
        raise NotImplementedError("a JournalContract subclass provides a journal_factory fixture")

    @pytest.fixture
    async def journal(self, journal_factory: JournalFactory) -> AsyncIterator[Journal]:
        journal = await journal_factory()
        yield journal
        await journal.close()

    # -- expected versions ---------------------------------------------------------

    async def test_no_stream_and_zero_both_start_a_stream(self, journal: Journal) -> None:
        first = await journal.append("order-1", NO_STREAM, new_events(2))
        second = await journal.append("order-2", 0, new_events(1))
        assert (first.version, first.first_version) == (2, 1)
        assert (second.stream, second.version) == ("order-2", 1)

    async def test_a_matching_version_appends_after_it(self, journal: Journal) -> None:
        await journal.append("order-1", NO_STREAM, new_events(2))
        result = await journal.append("order-1", 2, new_events(3))
        assert (result.first_version, result.version) == (3, 5)
        assert result.position - result.first_position == 2
        assert await journal.stream_version("order-1") == 5

    @pytest.mark.parametrize("expected", [0, 1, 3, NO_STREAM])
    async def test_a_stale_version_raises_with_the_values_and_writes_nothing(
        self, journal: Journal, expected: ExpectedVersion
    ) -> None:
        await journal.append("order-1", NO_STREAM, new_events(2))
        with pytest.raises(WrongExpectedVersionError) as caught:
            await journal.append("order-1", expected, new_events(1))
        assert (caught.value.stream, caught.value.expected, caught.value.actual) == (
            "order-1",
            expected,
            2,
        )
        assert "order-1" in str(caught.value)
        assert await journal.stream_version("order-1") == 2
        assert len(await journal.read_all()) == 2

    async def test_any_appends_whatever_the_version(self, journal: Journal) -> None:
        await journal.append("order-1", ANY, new_events(1))
        result = await journal.append("order-1", ANY, new_events(2))
        assert result.version == 3

    async def test_versions_are_gapless_across_appends(self, journal: Journal) -> None:
        version = 0
        for size in (1, 3, 2, 5, 1):
            result = await journal.append("order-9", version, new_events(size))
            assert result.first_version == version + 1
            version = result.version
        stored = await journal.read_stream("order-9")
        assert [e.version for e in stored] == list(range(1, 13))

    async def test_racing_writers_on_one_stream_exactly_one_wins(self, journal: Journal) -> None:
        await journal.append("room-1", NO_STREAM, new_events(1))
        outcomes = await asyncio.gather(
            *(journal.append("room-1", 1, new_events(2)) for _ in range(6)),
            return_exceptions=True,
        )
        wins = [o for o in outcomes if isinstance(o, AppendResult)]
        losses = [o for o in outcomes if isinstance(o, WrongExpectedVersionError)]
        assert (len(wins), len(losses)) == (1, 5)
        assert {(e.stream, e.expected, e.actual) for e in losses} == {("room-1", 1, 3)}
        assert [e.version for e in await journal.read_stream("room-1")] == [1, 2, 3]

    async def test_a_failed_append_does_not_fail_its_neighbours(self, journal: Journal) -> None:
        taken = new_events(1)
        await journal.append("room-1", NO_STREAM, taken)
        outcomes = await asyncio.gather(
            journal.append("room-2", NO_STREAM, new_events(2)),
            journal.append("room-1", 7, new_events(1)),
            journal.append("room-3", NO_STREAM, [*new_events(1), taken[0]]),
            journal.append("room-4", NO_STREAM, new_events(1)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], AppendResult)
        assert isinstance(outcomes[3], AppendResult)
        assert isinstance(outcomes[1], WrongExpectedVersionError)
        assert isinstance(outcomes[2], InputError)
        assert str(taken[0].event_id) in str(outcomes[2])
        assert await journal.stream_version("room-3") == 0
        streams = [e.stream for e in await journal.read_all()]
        assert streams == ["room-1", "room-2", "room-2", "room-4"]

    # -- reading -------------------------------------------------------------------

    async def test_read_stream_honours_its_range(self, journal: Journal) -> None:
        await journal.append("order-1", NO_STREAM, new_events(6))
        await journal.append("order-2", NO_STREAM, new_events(2))

        async def versions(lo: int = 1, hi: int | None = None) -> list[int]:
            return [e.version for e in await journal.read_stream("order-1", lo, hi)]

        assert await versions() == [1, 2, 3, 4, 5, 6]
        assert await versions(3) == [3, 4, 5, 6]
        assert await versions(2, 4) == [2, 3, 4]
        assert await versions(5, 5) == [5]
        assert await versions(7) == []
        assert await journal.read_stream("order-404") == []

    async def test_read_all_pages_in_position_order(self, journal: Journal) -> None:
        for i in range(10):
            await journal.append(f"order-{i % 3}", ANY, new_events(1, start=i))
        pages, after = [], 0
        while page := await journal.read_all(after, limit=3):
            pages.append(page)
            after = page[-1].position
        assert [len(p) for p in pages] == [3, 3, 3, 1]
        positions = [e.position for p in pages for e in p]
        assert positions == sorted(set(positions))
        assert len(positions) == 10
        assert [e.data for p in pages for e in p] == [b'{"n":%d}' % i for i in range(10)]
        assert await journal.read_all(positions[-1]) == []

    async def test_head_position_and_stream_version(self, journal: Journal) -> None:
        assert await journal.head_position() == 0
        assert await journal.stream_version("order-1") == 0
        result = await journal.append("order-1", NO_STREAM, new_events(3))
        await journal.append("order-2", NO_STREAM, new_events(1))
        assert await journal.head_position() == result.position + 1
        assert await journal.stream_version("order-1") == 3

    async def test_get_and_find_an_event(self, journal: Journal) -> None:
        written = new_events(2)
        result = await journal.append("order-1", NO_STREAM, written)
        by_position = await journal.get_event(result.position)
        by_id = await journal.find_event(written[1].event_id)
        assert by_position == by_id
        assert (by_id.version, by_id.event_id) == (2, written[1].event_id)
        with pytest.raises(EventNotFoundError):
            await journal.get_event(result.position + 1)
        with pytest.raises(EventNotFoundError):
            await journal.find_event(uuid.uuid4())

    async def test_the_envelope_round_trips(self, journal: Journal) -> None:
        tokyo = timezone(timedelta(hours=9))
        metadata: Metadata = {"tenant": "acme", "tags": ["a", "b"], "n": 3, "x": 1.5}
        sent = NewEvent(
            "contract.Said",
            4,
            '{"text":"記録 ✓"}'.encode(),
            occurred_at=datetime(2031, 2, 3, 4, 5, 6, 789012, tzinfo=tokyo),
            correlation_id="corr-1",
            causation_id="cause-1",
            metadata={**metadata, "nested": {"ok": True, "none": None}},
        )
        await journal.append("room-7", NO_STREAM, [sent])
        [got] = await journal.read_stream("room-7")
        assert (got.stream, got.version, got.type, got.schema_version) == (
            "room-7",
            1,
            "contract.Said",
            4,
        )
        assert (got.data, got.event_id, got.occurred_at) == (
            sent.data,
            sent.event_id,
            sent.occurred_at,
        )
        assert got.occurred_at.tzinfo is not None
        assert (got.correlation_id, got.causation_id) == ("corr-1", "cause-1")
        assert got.metadata == sent.metadata
        assert (await journal.read_all())[0] == got

    async def test_position_at_finds_the_last_event_at_or_before(self, journal: Journal) -> None:
        t0 = datetime(2030, 1, 1, tzinfo=UTC)
        for i in range(3):
            event = new_events(1, occurred_at=t0 + timedelta(seconds=i))
            await journal.append("clock-1", ANY, event)
        assert await journal.position_at(t0 - timedelta(microseconds=1)) == 0
        assert await journal.position_at(t0) == 1
        assert await journal.position_at(t0 + timedelta(seconds=1.5)) == 2
        assert await journal.position_at(t0 + timedelta(days=365)) == 3
        elsewhere = (t0 + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5)))
        assert await journal.position_at(elsewhere) == 2
        with pytest.raises(InputError):
            await journal.position_at(datetime(2030, 1, 1))

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
            await _close_iterator(batches)

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
            await _close_iterator(batches)
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
            await _close_iterator(batches)

    # -- snapshots and deletion ----------------------------------------------------

    async def test_snapshots_save_load_and_overwrite(self, journal: Journal) -> None:
        assert await journal.load_snapshot("room-1") is None
        first = _snapshot("room-1", 3)
        await journal.save_snapshot(first)
        await journal.save_snapshot(_snapshot("room-2", 1))
        assert await journal.load_snapshot("room-1") == first
        later = _snapshot("room-1", 9, metadata={"keys": ["k1", "k2"]})
        await journal.save_snapshot(later)
        assert await journal.load_snapshot("room-1") == later
        assert await journal.load_snapshot("room-2") == _snapshot("room-2", 1)

    async def test_delete_before_removes_old_events_but_not_the_numbering(
        self, journal: Journal
    ) -> None:
        written = new_events(5)
        await journal.append("room-1", NO_STREAM, written)
        await journal.append("room-2", NO_STREAM, new_events(1))
        assert await journal.delete_before("room-1", 4) == 3
        assert [e.version for e in await journal.read_stream("room-1")] == [4, 5]
        assert [e.version for e in await journal.read_all()] == [4, 5, 1]
        assert await journal.stream_version("room-1") == 5
        with pytest.raises(EventNotFoundError):
            await journal.find_event(written[0].event_id)
        with pytest.raises(EventNotFoundError):
            await journal.get_event(1)
        assert await journal.delete_before("room-1", 4) == 0
        result = await journal.append("room-1", 5, new_events(1))
        assert result.version == 6
        assert result.position == 7

    # -- bad input -----------------------------------------------------------------

    async def test_bad_input_raises_and_writes_nothing(self, journal: Journal) -> None:
        await journal.append("room-1", NO_STREAM, new_events(1, start=0))
        taken = (await journal.read_all())[0].event_id
        twice = new_events(1)
        naive = datetime(2030, 1, 1)
        bad: list[tuple[type[Exception], str, Any, list[Any]]] = [
            (InvalidStreamNameError, "nodash", NO_STREAM, new_events(1)),
            (InvalidStreamNameError, "Room-2", NO_STREAM, new_events(1)),
            (EmptyAppendError, "room-2", NO_STREAM, []),
            (InputError, "room-2", NO_STREAM, [{"type": "x"}]),
            (InputError, "room-2", NO_STREAM, new_events(1, occurred_at=naive)),
            (InputError, "room-2", NO_STREAM, new_events(1, event_id=taken)),
            (InputError, "room-2", NO_STREAM, twice + twice),
            (InputError, "room-2", -1, new_events(1)),
            (InputError, "room-2", True, new_events(1)),
        ]
        for error, stream, expected, events in bad:
            with pytest.raises(error):
                await journal.append(stream, expected, events)
        assert [e.event_id for e in await journal.read_all()] == [taken]
        assert await journal.stream_version("room-2") == 0

    async def test_a_closed_journal_refuses_everything(self, journal: Journal) -> None:
        await journal.append("room-1", NO_STREAM, new_events(1))
        await journal.close()
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: journal.append("room-1", 1, new_events(1)),
            lambda: journal.read_stream("room-1"),
            lambda: journal.read_all(),
            lambda: journal.head_position(),
            lambda: journal.stream_version("room-1"),
            lambda: journal.get_event(1),
            lambda: journal.load_snapshot("room-1"),
            lambda: journal.save_snapshot(_snapshot("room-1", 1)),
            lambda: journal.delete_before("room-1", 1),
        ]
        for call in calls:
            with pytest.raises(JournalClosedError):
                await call()
        with pytest.raises(JournalClosedError):
            journal.subscribe(0)
        await journal.close()  # closing twice is harmless

    # -- durability (backends with storage that outlives the object) ---------------

    async def test_everything_survives_reopening(
        self, journal: Journal, journal_factory: JournalFactory
    ) -> None:
        self._need_durable()
        await journal.append("room-1", NO_STREAM, new_events(3, metadata={"k": "v"}))
        await journal.save_snapshot(_snapshot("room-1", 2))
        before = await journal.read_all()
        await journal.close()
        again = await journal_factory()
        try:
            assert await again.read_all() == before
            assert await again.load_snapshot("room-1") == _snapshot("room-1", 2)
            result = await again.append("room-1", 3, new_events(1))
            assert (result.version, result.position) == (4, 4)
        finally:
            await again.close()

    async def test_positions_are_never_reused_after_deleting_the_newest(
        self, journal: Journal, journal_factory: JournalFactory
    ) -> None:
        self._need_durable()
        await journal.append("room-1", NO_STREAM, new_events(3))
        await journal.delete_before("room-1", 4)
        await journal.close()
        again = await journal_factory()
        try:
            assert await again.head_position() == 3
            assert await again.stream_version("room-1") == 3
            result = await again.append("room-2", NO_STREAM, new_events(1))
            assert result.position == 4
        finally:
            await again.close()

    def _need_durable(self) -> None:
        if not self.durable:
            pytest.skip(f"{type(self).__name__} keeps nothing across reopening")


def _snapshot(stream: str, version: int, metadata: Metadata | None = None) -> Snapshot:
    return Snapshot(
        stream=stream,
        version=version,
        state_type="contract.State",
        state_version=1,
        data=b'{"count":%d}' % version,
        taken_at=datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
        metadata=metadata if metadata is not None else {},
    )
