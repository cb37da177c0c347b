"""Read a whole journal and say whether every stored event is readable by this code.

Run before deploying a new version of an event type: for each stored type name
and schema version, how many events exist and whether each upcasts cleanly to
the current version and decodes into its class. Failures are listed with their
position and reason, so the one broken event in ten million can be found and
fixed (or a missing upcaster written) before a consumer parks on it in
production. The journal is only read, never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from kiroku.domain.envelope import JSON, StoredEvent
from kiroku.errors import SchemaError, UnknownEventTypeError
from kiroku.schema.codec import Codec

__all__ = ["CheckFailure", "CheckReport", "CheckRow", "EventReader", "check_journal"]


class EventReader(Protocol):
    """The two journal calls a check needs; every ``Journal`` has them.

    Declared here rather than imported so the schema layer stays below the
    journal layer.
    """

    async def head_position(self) -> int: ...

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]: ...


Progress = Callable[[int], None]
"""Called with the last position read, after each batch."""


@dataclass(frozen=True, slots=True)
class CheckFailure:
    """One stored event this code cannot read, and why."""

    position: int
    stream: str
    type: str
    schema_version: int
    error: str
    reason: str

    def to_json(self) -> dict[str, JSON]:
        return {
            "position": self.position,
            "stream": self.stream,
            "type": self.type,
            "schema_version": self.schema_version,
            "error": self.error,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class CheckRow:
    """The events stored under one type name at one schema version.

    ``current`` is the registered name and version they are read as, or None
    for a type name this code does not know.
    """

    type: str
    schema_version: int
    current: tuple[str, int] | None
    events: int
    failed: int

    @property
    def status(self) -> str:
        if self.current is None:
            return "unknown type"
        if self.schema_version > self.current[1]:
            return "future version"
        if self.failed:
            return "failing"
        return "current" if self.schema_version == self.current[1] else "upcast"

    def to_json(self) -> dict[str, JSON]:
        return {
            "type": self.type,
            "schema_version": self.schema_version,
            "current_type": self.current[0] if self.current else None,
            "current_version": self.current[1] if self.current else None,
            "events": self.events,
            "failed": self.failed,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The whole journal's verdict; ``ok`` only if every event was readable."""

    rows: tuple[CheckRow, ...]
    failures: tuple[CheckFailure, ...]
    events: int
    failed: int
    head: int

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def failures_shown(self) -> int:
        return len(self.failures)

    def to_json(self) -> dict[str, JSON]:
        return {
            "ok": self.ok,
            "events": self.events,
            "failed": self.failed,
            "head": self.head,
            "types": [row.to_json() for row in self.rows],
            "failures": [f.to_json() for f in self.failures],
        }


@dataclass(slots=True)
class _Tally:
    """Counts while reading; turned into a frozen CheckReport at the end."""

    codec: Codec
    max_failures: int
    events: dict[tuple[str, int], int] = field(default_factory=dict)
    failed: dict[tuple[str, int], int] = field(default_factory=dict)
    failures: list[CheckFailure] = field(default_factory=list)

    def add(self, stored: StoredEvent) -> None:
        key = (stored.type, stored.schema_version)
        self.events[key] = self.events.get(key, 0) + 1
        try:
            self.codec.decode(stored)
        except SchemaError as e:
            self.failed[key] = self.failed.get(key, 0) + 1
            if len(self.failures) < self.max_failures:
                self.failures.append(_failure(stored, e))

    def report(self, head: int) -> CheckReport:
        rows = tuple(self._row(key, count) for key, count in sorted(self.events.items()))
        return CheckReport(
            rows=rows,
            failures=tuple(self.failures),
            events=sum(self.events.values()),
            failed=sum(self.failed.values()),
            head=head,
        )

    def _row(self, key: tuple[str, int], count: int) -> CheckRow:
        name, version = key
        try:
            spec = self.codec.registry.resolve(name)
        except UnknownEventTypeError:
            current = None
        else:
            current = (spec.name, spec.version)
        return CheckRow(name, version, current, count, self.failed.get(key, 0))


def _failure(stored: StoredEvent, error: SchemaError) -> CheckFailure:
    return CheckFailure(
        position=stored.position,
        stream=stored.stream,
        type=stored.type,
        schema_version=stored.schema_version,
        error=type(error).__name__,
        reason=str(error),
    )


async def check_journal(
    journal: EventReader,
    codec: Codec,
    *,
    batch_size: int = 1000,
    max_failures: int = 100,
    progress: Progress | None = None,
) -> CheckReport:
    """Decode every event up to the head as it is now; list at most ``max_failures``.

    Events appended while the check runs are left for the next check, so the
    report describes one well-defined prefix of the journal.
    """
    head = await journal.head_position()
    tally = _Tally(codec, max_failures)
    after = 0
    while after < head:
        batch = await journal.read_all(after, batch_size)
        if not batch:
            break
        for stored in batch:
            if stored.position > head:
                return tally.report(head)
            tally.add(stored)
        after = batch[-1].position
        if progress is not None:
            progress(min(after, head))
    return tally.report(head)
