"""Retracting an event: checks, the append, and the report of who was affected.

The checks run before anything is written, so a refused retraction appends
nothing: an unknown position or id (EventNotFoundError), a system event or an
already-retracted event (RetractionRefusedError). The retraction is appended to
the original's stream with an expected version, so two operators retracting the
same event at once cannot both succeed: the loser re-checks and is refused.

The report lists the blast radius, gathered from every registered witness: the
consumption ledger (who processed the event) and hold-back stores (who acted on
it, who still holds it). A retraction after the compensation window is written
all the same, flagged ``late``, and its report names the consumers that acted.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from kiroku.corrections.clock import Clock, SystemClock
from kiroku.corrections.events import RETRACTED_TYPE, EventRetracted, is_system_type
from kiroku.corrections.exclusion import find_retraction
from kiroku.corrections.window import CompensationWindow
from kiroku.domain.envelope import NewEvent, StoredEvent
from kiroku.domain.numbers import ascii_digits, parse_int
from kiroku.errors import InputError, RetractionRefusedError, WrongExpectedVersionError
from kiroku.journal.protocol import Journal
from kiroku.schema.codec import encode_json

__all__ = [
    "BlastRadiusSource",
    "Exposure",
    "RetractionListener",
    "RetractionReport",
    "RetractionService",
]

_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Exposure:
    """One consumer's contact with the retracted event.

    ``outcome`` is ``"processed"`` (a read model applied it), ``"acted"`` (an
    irreversible effect happened) or ``"held"`` (waiting; it will never act now).
    """

    consumer: str
    outcome: str
    at: datetime | None = None

    @property
    def acted(self) -> bool:
        return self.outcome in ("processed", "acted")


@runtime_checkable
class BlastRadiusSource(Protocol):
    """Anything that knows which consumers touched an event: the ledger, a hold store."""

    async def exposures(self, position: int) -> Sequence[Exposure]: ...


@dataclass(frozen=True, slots=True)
class RetractionReport:
    original: StoredEvent
    retraction: StoredEvent
    late: bool
    window_closed_at: datetime
    blast_radius: tuple[Exposure, ...]

    @property
    def acted(self) -> tuple[str, ...]:
        """Consumers whose effects the retraction must now compensate."""
        return tuple(sorted({x.consumer for x in self.blast_radius if x.acted}))


RetractionListener = Callable[[RetractionReport], Awaitable[None]]
"""Called after each retraction, e.g. to refresh the live actor of the stream."""


class RetractionService:
    def __init__(
        self,
        journal: Journal,
        *,
        window: CompensationWindow | None = None,
        clock: Clock | None = None,
        witnesses: Iterable[BlastRadiusSource] = (),
        listeners: Iterable[RetractionListener] = (),
    ) -> None:
        self.journal = journal
        self.window = window if window is not None else CompensationWindow()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.witnesses = list(witnesses)
        self.listeners = list(listeners)

    async def resolve(self, ref: int | uuid.UUID | str) -> StoredEvent:
        """The event named by a global position or an event id (text or UUID)."""
        if isinstance(ref, int):
            return await self.journal.get_event(ref)
        if isinstance(ref, str):
            ref = ref.strip()
            if ascii_digits(ref):
                return await self.journal.get_event(parse_int(ref, "position", low=1))
            try:
                ref = uuid.UUID(ref)
            except ValueError:
                raise InputError(f"{ref!r} is neither a position nor an event id") from None
        return await self.journal.find_event(ref)

    async def retract(
        self, ref: int | uuid.UUID | str, *, reason: str, by: str
    ) -> RetractionReport:
        if not reason.strip():
            raise InputError(f"A retraction needs a reason (retracting {ref!r})")
        original = await self.resolve(ref)
        for _ in range(_ATTEMPTS):
            await self._check(original)
            version = await self.journal.stream_version(original.stream)
            try:
                retraction = await self._append(original, version, reason, by)
            except WrongExpectedVersionError:
                continue  # someone appended meanwhile: check again, then retry
            report = await self._report(original, retraction)
            for listener in self.listeners:
                await listener(report)
            return report
        raise RetractionRefusedError(
            original.position, f"stream {original.stream} kept changing over {_ATTEMPTS} attempts"
        )

    async def _check(self, original: StoredEvent) -> None:
        if is_system_type(original.type):
            raise RetractionRefusedError(
                original.position, f"{original.type} is a system event and cannot be retracted"
            )
        earlier = await find_retraction(self.journal, original)
        if earlier is not None:
            raise RetractionRefusedError(
                original.position,
                f"already retracted at position {earlier.position} ({original.type} "
                f"in stream {original.stream})",
            )

    async def _append(
        self, original: StoredEvent, version: int, reason: str, by: str
    ) -> StoredEvent:
        now = self.clock.now()
        body = EventRetracted(
            retracted_position=original.position,
            retracted_event_id=str(original.event_id),
            original_type=original.type,
            reason=reason,
            retracted_by=by,
            retracted_at=now,
            late=self.window.is_late(original.occurred_at, now),
        )
        new = NewEvent(
            type=RETRACTED_TYPE,
            schema_version=1,
            data=encode_json(body),
            occurred_at=now,
            correlation_id=original.correlation_id,
            causation_id=str(original.event_id),
        )
        result = await self.journal.append(original.stream, version, [new])
        return await self.journal.get_event(result.position)

    async def _report(self, original: StoredEvent, retraction: StoredEvent) -> RetractionReport:
        exposures: list[Exposure] = []
        for witness in self.witnesses:
            exposures.extend(await witness.exposures(original.position))
        exposures.sort(key=lambda x: (x.consumer, x.outcome))
        return RetractionReport(
            original=original,
            retraction=retraction,
            late=self.window.is_late(original.occurred_at, retraction.occurred_at),
            window_closed_at=self.window.closes_at(original.occurred_at),
            blast_radius=tuple(exposures),
        )
