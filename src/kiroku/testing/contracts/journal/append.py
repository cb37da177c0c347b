"""Appends and expected versions: gapless, unique, exactly one racing writer wins."""

from __future__ import annotations

import asyncio

import pytest

from kiroku.errors import (
    InputError,
    WrongExpectedVersionError,
)
from kiroku.journal.protocol import (
    ANY,
    NO_STREAM,
    AppendResult,
    ExpectedVersion,
    Journal,
)
from kiroku.testing.contracts.journal.base import (
    JournalFixtures,
    new_events,
)

__all__ = ["AppendContract"]


class AppendContract(JournalFixtures):
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
