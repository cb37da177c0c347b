"""Reading: streams, the whole journal in pages, single events, the envelope, time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kiroku.domain.envelope import Metadata, NewEvent
from kiroku.errors import (
    EventNotFoundError,
    InputError,
)
from kiroku.journal.protocol import (
    ANY,
    NO_STREAM,
    Journal,
)
from kiroku.testing.contracts.journal.base import (
    JournalFixtures,
    new_events,
)

__all__ = ["ReadContract"]


class ReadContract(JournalFixtures):
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
