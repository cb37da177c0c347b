"""Rebuilding an aggregate's state from the journal: latest snapshot + later events.

A snapshot is an optimisation, never the truth: one whose ``state_version``
differs from the decider's is upcast through ``Decider.snapshot_upcasters`` or
else ignored, and the state is folded from the events instead. Only when the
events behind an unusable snapshot were deleted by a retention policy is the
state truly lost; that is a RecoveryError, never a silently wrong state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

import msgspec

from kiroku.corrections.exclusion import exclude_retracted
from kiroku.corrections.source import recovery_view
from kiroku.domain.decider import Decider
from kiroku.domain.envelope import Folded, Recorded, StoredEvent
from kiroku.errors import (
    AggregateCrashedError,
    KirokuError,
    RecoveryError,
)
from kiroku.journal.protocol import Journal, Snapshot
from kiroku.runtime.receipts import ReceiptBook
from kiroku.runtime.result import CommandResult, Receipt, key_of
from kiroku.runtime.snapshot_state import usable_state
from kiroku.schema.codec import Codec

__all__ = ["Loaded", "Rehydrator"]

log = logging.getLogger(__name__)

S = TypeVar("S")
C = TypeVar("C")
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Loaded(Generic[S]):
    """A rebuilt state, the version it stands at, and the snapshot version it started from."""

    state: S
    version: int
    snapshot_version: int


@runtime_checkable
class RecoveryRead(Protocol):
    """A journal that reads what ``Rehydrator.load`` needs in one round trip."""

    async def recovery_read(
        self, stream: str
    ) -> tuple[Snapshot | None, int, list[StoredEvent], list[Folded]]: ...


class Rehydrator(Generic[S, C, E]):
    """Reads one stream back into a state; owned by that stream's actor."""

    def __init__(
        self, journal: Journal, codec: Codec, decider: Decider[S, C, E], stream: str
    ) -> None:
        self.journal = journal
        self.codec = codec
        self.decider = decider
        self.stream = stream
        # stored type name -> (its current schema version, a typed decode function)
        self._fast: dict[str, tuple[int, Callable[[bytes], E]]] = {}
        # not isinstance(journal, RecoveryRead): a Protocol check costs ~10 us, per actor
        self._one_trip = cast(
            RecoveryRead | None, journal if hasattr(journal, "recovery_read") else None
        )

    async def load(self, book: ReceiptBook[S, E]) -> Loaded[S]:
        """The latest state, with the idempotency book refilled along the way.

        The snapshot and the stream's version are read at the same time; when the
        snapshot is current, or the stream is new, no events are read at all. A
        version that is stale by the time the events are read only means a later
        WrongExpectedVersionError and a catch-up: never a wrong state.
        """
        book.clear()
        tail: list[StoredEvent] | None = None  # the events after the snapshot, if read already
        folded: list[Folded] = []  # or those events without envelopes: no system event among them
        if self._one_trip is not None:
            snapshot, head, tail, folded = await self._one_trip.recovery_read(self.stream)
        else:
            snapshot, head = await asyncio.gather(
                self.journal.load_snapshot(self.stream), self.journal.stream_version(self.stream)
            )
        start = self.usable(snapshot) if snapshot is not None else None
        if snapshot is not None and start is not None:
            book.load(snapshot.metadata)
            state, version = start, snapshot.version
        else:
            state, version = self.decider.initial, 0
        read_after = snapshot.version if snapshot is not None else 0
        if folded and version == read_after and head > version:
            self._check_contiguous(folded, version, _unused(snapshot, start is not None, ""), head)
            return Loaded(self.fold(state, folded, book), folded[-1].version, version)
        if head <= version:
            events: list[StoredEvent] = []
        elif tail is not None and version == read_after:
            events = tail
        else:
            events = await self.journal.read_stream(self.stream, version + 1)
        self._check_contiguous(events, version, _unused(snapshot, start is not None, ""), head)
        view = recovery_view(events, version)
        if view.restart:  # the snapshot holds an event retracted since: start over
            log.info(
                "stream %s: snapshot at version %d predates a retraction; rebuilding from events",
                self.stream,
                version,
            )
            book.clear()
            state, version = self.decider.initial, 0
            events = await self.journal.read_stream(self.stream, 1)
            self._check_contiguous(events, 0, "the snapshot predates a retraction", head)
            view = recovery_view(events, 0)
        state = self.fold(state, view.fold, book)
        return Loaded(state, view.version, version)

    async def catch_up(self, state: S, version: int, book: ReceiptBook[S, E]) -> Loaded[S] | None:
        """Fold what others appended after ``version``; None if a full load is needed:
        a gap, or a retraction of an event ``state`` already contains."""
        events = await self.journal.read_stream(self.stream, version + 1)
        if events and events[0].version != version + 1:
            return None
        view = recovery_view(events, version)
        if view.restart:
            return None
        state = self.fold(state, view.fold, book)
        return Loaded(state, view.version, 0)

    async def state_at(self, version: int | None, at: datetime | None) -> S:
        """The state after ``version`` and/or at time ``at``, folded from the journal.

        A snapshot is used only if it is not later than the point asked for.
        Events retracted by that point are excluded; a retraction after it is
        not yet known there, so the event still counts (history as it stood).
        """
        snapshot = await self.journal.load_snapshot(self.stream)
        start: S | None = None
        if snapshot is not None and _not_after(snapshot, version, at):
            start = self.usable(snapshot)
        if snapshot is not None and start is not None:
            state, base = start, snapshot.version
        else:
            state, base = self.decider.initial, 0
        if version is not None and version <= base:
            events: list[StoredEvent] = []
        else:
            events = await self._events_until(base + 1, version, at)
        self._check_contiguous(events, base, _unused(snapshot, start is not None, "too late or "))
        if base and recovery_view(events, base).restart:
            state = self.decider.initial
            events = await self._events_until(1, version, at)
            self._check_contiguous(events, 0, "the snapshot predates a retraction")
        return self.fold(state, exclude_retracted(events), None)

    async def _events_until(
        self, first: int, version: int | None, at: datetime | None
    ) -> list[StoredEvent]:
        events = await self.journal.read_stream(self.stream, first, version)
        return [e for e in events if e.occurred_at <= at] if at is not None else events

    def fold(
        self,
        state: S,
        events: Sequence[StoredEvent] | Sequence[Folded],
        book: ReceiptBook[S, E] | None,
    ) -> S:
        """Decode and apply ``events``; keyed ones are gathered into results for ``book``.

        The hot loop of recovery: events at their type's current version decode
        straight through a cached typed decoder; anything else (older versions to
        upcast, unknown types, bad data) takes the codec's full path and errors.
        """
        evolve, fast, slow = self.decider.evolve, self._fast, self._decode
        group: list[Recorded[E]] = []
        for stored in events:
            known = fast.get(stored.type)
            if known is not None and known[0] == stored.schema_version:
                try:
                    data = known[1](stored.data)
                except msgspec.DecodeError:
                    data = slow(stored)  # raises the codec's DecodeError, with the position
            else:
                data = slow(stored)
            try:
                state = evolve(state, data)
            except KirokuError:
                raise
            except Exception as e:
                raise AggregateCrashedError(self.stream, e) from e
            if book is not None and (group or stored.metadata):
                assert isinstance(stored, StoredEvent)  # Folded rows have no metadata
                self._gather(group, stored, data, state, book)
        return state

    def _decode(self, stored: StoredEvent | Folded) -> E:
        spec = self.codec.registry.resolve(stored.type, stored.position)
        data = self.codec.decode_data(spec, stored.schema_version, stored.data, stored.position)
        if stored.schema_version == spec.version and stored.type not in self._fast:
            self._fast[stored.type] = (spec.version, _typed_decoder(spec.cls))
        return data  # type: ignore[return-value]  # the registry maps the name to E's classes

    def _gather(
        self,
        group: list[Recorded[E]],
        stored: StoredEvent,
        data: E,
        state: S,
        book: ReceiptBook[S, E],
    ) -> None:
        """Rebuild the result of a keyed command as its events go by.

        Consecutive events under one key are one command's events (an actor
        appends a command's events in one call, and versions are gapless).
        """
        key = key_of(stored.metadata)
        if key is None:
            group.clear()
            return
        if group and key_of(group[-1].metadata) != key:
            group.clear()
        group.append(stored.decoded(data))
        events = tuple(group)
        result = CommandResult(
            self.stream, stored.version, events[0].position, stored.position, events, state
        )
        book.remember(Receipt.of(key, result), result)

    def usable(self, snapshot: Snapshot) -> S | None:
        """The snapshot's state in the decider's current shape, or None to rebuild from events."""
        return usable_state(self.stream, self.decider, self.codec, snapshot)

    def _check_contiguous(
        self, events: Sequence[StoredEvent] | Sequence[Folded], base: int, note: str, head: int = 0
    ) -> None:
        """Raise RecoveryError unless ``events`` continue right after ``base``."""
        if events:
            first = events[0].version
            if first == base + 1:
                return
        elif head > base:  # the stream has events, but none of them are left
            first = head + 1
        else:
            return
        raise RecoveryError(
            self.stream,
            f"events {base + 1}..{first - 1} were deleted and {note} "
            f"(decider {type(self.decider).__qualname__} at state_version "
            f"{self.decider.state_version})",
        )


def _unused(snapshot: Snapshot | None, used: bool, why: str) -> str:
    """How to explain a gap in the events, for RecoveryError."""
    if snapshot is None:
        return "there is no snapshot to start from"
    if used:
        return f"they come after the snapshot at version {snapshot.version}"
    return (
        f"the snapshot at version {snapshot.version} (state_version {snapshot.state_version}) "
        f"is {why}unusable"
    )


_DECODERS: dict[type, msgspec.json.Decoder[Any]] = {}


def _typed_decoder(cls: type) -> Callable[[bytes], Any]:
    """One msgspec decoder per event class, shared by every stream's recovery."""
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = msgspec.json.Decoder(cls)
    return decoder.decode


def _not_after(snapshot: Snapshot, version: int | None, at: datetime | None) -> bool:
    if version is not None and snapshot.version > version:
        return False
    return at is None or snapshot.taken_at <= at
