"""Bad input writes nothing; a closed journal refuses everything."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from kiroku.errors import (
    EmptyAppendError,
    InputError,
    InvalidStreamNameError,
    JournalClosedError,
)
from kiroku.journal.protocol import (
    NO_STREAM,
    Journal,
)
from kiroku.testing.contracts.journal.base import (
    JournalFixtures,
    new_events,
    snapshot,
)

__all__ = ["LifecycleContract"]


class LifecycleContract(JournalFixtures):
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
            lambda: journal.save_snapshot(snapshot("room-1", 1)),
            lambda: journal.delete_before("room-1", 1),
        ]
        for call in calls:
            with pytest.raises(JournalClosedError):
                await call()
        with pytest.raises(JournalClosedError):
            journal.subscribe(0)
        await journal.close()  # closing twice is harmless
