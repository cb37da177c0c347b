"""An in-memory journal: the reference behaviour, for tests and experiments.

Everything the contract suite asks of a durable backend except durability.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from kiroku.domain.envelope import NewEvent, StoredEvent
from kiroku.domain.streams import validate_stream
from kiroku.errors import EventNotFoundError, InputError, JournalClosedError
from kiroku.journal.checks import check_append, check_expected_version
from kiroku.journal.notify import AppendSignal, follow
from kiroku.journal.protocol import AppendResult, ExpectedVersion, Snapshot

__all__ = ["MemoryJournal"]


class MemoryJournal:
    def __init__(self) -> None:
        self._events: list[StoredEvent] = []  # ordered by position; deleted ones removed
        self._positions: list[int] = []  # parallel to _events, for bisect
        self._streams: dict[str, list[StoredEvent]] = {}
        self._versions: dict[str, int] = {}
        self._by_id: dict[uuid.UUID, StoredEvent] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._head = 0
        self._signal: AppendSignal | None = None
        self._closed = False

    @property
    def signal(self) -> AppendSignal:
        if self._signal is None:  # created lazily so it binds to the running loop
            self._signal = AppendSignal(self._head)
        return self._signal

    def _check_open(self) -> None:
        if self._closed:
            raise JournalClosedError()

    async def append(
        self, stream: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> AppendResult:
        self._check_open()
        check_append(stream, expected_version, events)
        version = self._versions.get(stream, 0)
        check_expected_version(stream, expected_version, version)
        first = self._head + 1
        stored = [
            StoredEvent(
                position=first + i,
                stream=stream,
                version=version + 1 + i,
                type=e.type,
                schema_version=e.schema_version,
                data=e.data,
                event_id=e.event_id,
                occurred_at=e.occurred_at,
                correlation_id=e.correlation_id,
                causation_id=e.causation_id,
                metadata=dict(e.metadata),
            )
            for i, e in enumerate(events)
        ]
        for s in stored:
            if s.event_id in self._by_id:
                raise InputError(f"event_id {s.event_id} is already in the journal")
        for s in stored:
            self._events.append(s)
            self._positions.append(s.position)
            self._by_id[s.event_id] = s
        self._streams.setdefault(stream, []).extend(stored)
        self._versions[stream] = stored[-1].version
        self._head = stored[-1].position
        self.signal.notify(self._head)
        return AppendResult(stream, stored[-1].version, first, self._head)

    async def read_stream(
        self, stream: str, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        self._check_open()
        top = to_version if to_version is not None else self._versions.get(stream, 0)
        return [e for e in self._streams.get(stream, ()) if from_version <= e.version <= top]

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        self._check_open()
        start = bisect.bisect_right(self._positions, after_position)
        return self._events[start : start + limit]

    def subscribe(
        self, after_position: int = 0, batch_size: int = 1000
    ) -> AsyncIterator[list[StoredEvent]]:
        self._check_open()
        return follow(self.read_all, self.signal, after_position, batch_size)

    async def head_position(self) -> int:
        self._check_open()
        return self._head

    async def stream_version(self, stream: str) -> int:
        self._check_open()
        return self._versions.get(stream, 0)

    async def get_event(self, position: int) -> StoredEvent:
        self._check_open()
        i = bisect.bisect_left(self._positions, position)
        if i < len(self._positions) and self._positions[i] == position:
            return self._events[i]
        raise EventNotFoundError(position)

    async def find_event(self, event_id: uuid.UUID) -> StoredEvent:
        self._check_open()
        try:
            return self._by_id[event_id]
        except KeyError:
            raise EventNotFoundError(str(event_id)) from None

    async def position_at(self, when: datetime) -> int:
        self._check_open()
        if when.tzinfo is None:
            raise InputError(f"position_at needs a timezone-aware datetime, got {when}")
        found = 0
        for e in self._events:
            if e.occurred_at <= when:
                found = e.position
        return found

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        self._check_open()
        validate_stream(snapshot.stream)
        self._snapshots[snapshot.stream] = snapshot

    async def load_snapshot(self, stream: str) -> Snapshot | None:
        self._check_open()
        return self._snapshots.get(stream)

    async def delete_before(self, stream: str, version: int) -> int:
        self._check_open()
        validate_stream(stream)
        doomed = [e for e in self._streams.get(stream, ()) if e.version < version]
        if not doomed:
            return 0
        gone = {e.position for e in doomed}
        self._streams[stream] = [e for e in self._streams[stream] if e.version >= version]
        kept = [e for e in self._events if e.position not in gone]
        self._events = kept
        self._positions = [e.position for e in kept]
        for e in doomed:
            del self._by_id[e.event_id]
        return len(doomed)

    async def close(self) -> None:
        self._closed = True
        if self._signal is not None:
            self._signal.close()
