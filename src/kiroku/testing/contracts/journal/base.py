"""What every journal contract shares: the fixtures, the test events, the timing.

A backend provides a ``journal_factory`` fixture (an async callable opening a
journal; calling it again reopens the same storage) and sets ``durable = True``
if that storage outlives the object.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import ClassVar, TypeAlias

import pytest

from kiroku.domain.envelope import Metadata, NewEvent, StoredEvent
from kiroku.journal.protocol import (
    Journal,
    Snapshot,
)

__all__ = [
    "PATIENCE",
    "SETTLE",
    "JournalFactory",
    "JournalFixtures",
    "close_iterator",
    "new_events",
    "snapshot",
]

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


async def close_iterator(it: AsyncIterator[list[StoredEvent]]) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await aclose()


class JournalFixtures:
    """The fresh, empty ``journal`` each test gets, closed afterwards."""

    durable: ClassVar[bool] = False

    @pytest.fixture
    def journal_factory(self) -> JournalFactory:
        raise NotImplementedError("a JournalContract subclass provides a journal_factory fixture")

    @pytest.fixture
    async def journal(self, journal_factory: JournalFactory) -> AsyncIterator[Journal]:
        journal = await journal_factory()
        yield journal
        await journal.close()

    def _need_durable(self) -> None:
        if not self.durable:
            pytest.skip(f"{type(self).__name__} keeps nothing across reopening")


def snapshot(stream: str, version: int, metadata: Metadata | None = None) -> Snapshot:
    return Snapshot(
        stream=stream,
        version=version,
        state_type="contract.State",
        state_version=1,
        data=b'{"count":%d}' % version,
        taken_at=datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
        metadata=metadata if metadata is not None else {},
    )
