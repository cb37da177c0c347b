"""Applying one batch of stored events inside one transaction.

What a batch changes besides the read model is collected in a ``BatchWork``
(``work``) and applied to memory only after COMMIT.

A projection declaring ``@handles_retraction`` also subscribes to
``kiroku.EventRetracted``: the runner reads the voided original back from the
journal and calls the handler in the batch's transaction, so the compensation
takes effect exactly once, with the checkpoint and the ledger. A projection
compensating by rebuild subscribes to it as well: its ``RebuildWatch`` notes, in
the same transaction, that a rebuild is needed (``rebuild_needed``).
"""

from __future__ import annotations

import traceback as tb
from collections.abc import Callable, Mapping

from kiroku.corrections.compensation import (
    Compensation,
    RetractionHandler,
    compensation_of,
    retraction_pair,
)
from kiroku.corrections.events import RETRACTED_TYPE, EventRetracted, parse_retraction
from kiroku.domain.envelope import Recorded, StoredEvent
from kiroku.errors import HandlerError, RegistrationError
from kiroku.journal.protocol import Journal
from kiroku.projections import ledger
from kiroku.projections.model import Outcome
from kiroku.projections.projection import HandlerFn, Projection
from kiroku.projections.readstore import Tx
from kiroku.projections.rebuild_needed import RebuildWatch
from kiroku.projections.skips import Skip
from kiroku.projections.work import BatchWork
from kiroku.schema.codec import Codec

__all__ = ["Applier", "decoded", "subscribed_names"]

_DECODED_KEEP = 4096
_decoded: dict[int, tuple[StoredEvent, Codec, Recorded[object]]] = {}


def decoded(codec: Codec, event: StoredEvent) -> Recorded[object]:
    """``codec.decode(event)``, once for the runners of a process: they take the same
    ``StoredEvent`` objects from one shared journal read (``feed``), so the second
    runner to apply an event finds it decoded (the same codec, the same object: a
    re-read event, or another codec, is decoded again). Both are immutable."""
    hit = _decoded.get(event.position)
    if hit is not None and hit[0] is event and hit[1] is codec:
        return hit[2]
    recorded = codec.decode(event)
    if len(_decoded) >= _DECODED_KEEP:
        _decoded.clear()
    _decoded[event.position] = (event, codec, recorded)
    return recorded


class Applier:
    """Decides, per event: duplicate, deferred (gap), held (parked stream) or applied."""

    def __init__(
        self,
        projection: Projection,
        codec: Codec,
        version_of: Callable[[str], int],
        blocked: set[str],
        journal: Journal,
        skipped: Mapping[int, Skip],
    ) -> None:
        self.projection = projection
        self.codec = codec
        self.journal = journal
        self._version_of = version_of
        self._blocked = blocked
        self.compensation, self._undo = _compensation(projection)
        self.names = subscribed_names(projection, codec)
        self.skipped: Mapping[int, Skip] = skipped
        self.watch: RebuildWatch | None = None
        if self.compensation is Compensation.REBUILD:
            self.watch = RebuildWatch(self.names)
        if self._undo is not None or self.watch is not None:
            self.names |= {RETRACTED_TYPE}
        self._takes_retractions = EventRetracted in projection.handlers
        self._single: dict[type, HandlerFn] = {
            t: getattr(projection, entries[0][1])
            for t, entries in projection.handlers.items()
            if len(entries) == 1 and entries[0][0].unconditional
        }

    def _dispatch(self, event: Recorded[object]) -> HandlerFn | None:
        """The handler: bound once per type when a type has one unconditional selector."""
        fast = self._single.get(type(event.data))
        return fast if fast is not None else self.projection.handler_for(event)

    def last_version(self, work: BatchWork, stream: str) -> int:
        seen = work.versions.get(stream)
        return seen[0] if seen is not None else self._version_of(stream)

    async def apply(self, tx: Tx, event: StoredEvent, work: BatchWork) -> None:
        """One event; the common case (in order, no parked stream) stays on the first branch."""
        stream = event.stream
        seen = work.versions.get(stream)
        last = seen[0] if seen is not None else self._version_of(stream)
        if event.version == last + 1 and stream not in self._blocked and not work.blocked:
            await self._take(tx, event, work)
            work.versions[stream] = (event.version, event.position)
            work.covered.append(event.position)
            if work.pending:
                await self._drain(tx, stream, work)
            return
        await self._out_of_line(tx, event, work, last)

    async def _out_of_line(self, tx: Tx, event: StoredEvent, work: BatchWork, last: int) -> None:
        if event.version <= last:
            work.duplicates += 1
            work.exceptions.append((event.position, Outcome.DUPLICATE, f"stream at version {last}"))
            return
        if event.stream in self._blocked or event.stream in work.blocked:
            if not ledger.is_parked(tx.conn, event.position):  # a redelivery is parked already
                work.covered.append(event.position)
                self.hold(tx, event, work)
            return
        if event.version > last + 1:
            work.pending.setdefault(event.stream, {})[event.version] = event
            work.exceptions.append(
                (event.position, Outcome.DEFERRED, f"waiting for version {last + 1}")
            )
            return
        await self._in_order(tx, event, work)
        await self._drain(tx, event.stream, work)

    async def _in_order(self, tx: Tx, event: StoredEvent, work: BatchWork) -> None:
        work.covered.append(event.position)
        await self._take(tx, event, work)
        work.versions[event.stream] = (event.version, event.position)

    async def _take(self, tx: Tx, event: StoredEvent, work: BatchWork) -> None:
        """Run the handler, unless an operator skipped this event for this projection."""
        skip = self.skipped.get(event.position)
        if skip is not None:
            work.exceptions.append((event.position, Outcome.SKIPPED, skip.detail))
        elif event.type in self.names:
            await self.run_handler(tx, event, work)
            work.applied += 1

    async def _drain(self, tx: Tx, stream: str, work: BatchWork) -> None:
        waiting = work.pending.get(stream)
        while waiting:
            nxt = waiting.pop(self.last_version(work, stream) + 1, None)
            if nxt is None:
                return
            await self._in_order(tx, nxt, work)
            work.exceptions.append((nxt.position, Outcome.APPLIED, "applied after a gap closed"))
        work.pending.pop(stream, None)

    async def fill_gaps(self, tx: Tx, work: BatchWork) -> None:
        """Events ahead of a gap: fetch the missing ones from the journal, the source of truth.

        Versions the journal no longer holds although a later one of the stream
        is there were deleted (retention: ``delete_before``); versions are
        appended in order, so nothing can still fill them. The event after them
        is accepted with a ledger note instead of waiting forever. A gap the
        journal cannot explain (nothing of the stream visible yet) keeps waiting.
        """
        for stream, waiting in list(work.pending.items()):
            have = self.last_version(work, stream)
            del work.pending[stream]
            found = await self.journal.read_stream(stream, have + 1, max(waiting))
            note = "applied after a gap closed"
            if found and found[0].version > have + 1:
                first = found[0]
                note = (
                    f"versions {have + 1}..{first.version - 1} of {stream} were deleted "
                    "from the journal (retention); accepted after them"
                )
                work.versions[stream] = (first.version - 1, first.position - 1)
                if first.version not in waiting:
                    work.exceptions.append((first.position, Outcome.APPLIED, note))
            for event in found:
                deferred = waiting.pop(event.version, None) is not None
                await self.apply(tx, event, work)
                if deferred:
                    work.exceptions.append((event.position, Outcome.APPLIED, note))
                note = "applied after a gap closed"
            if waiting:  # not in the journal yet: keep waiting, checkpoint held by the runner
                work.pending.setdefault(stream, {}).update(waiting)

    async def run_handler(self, tx: Tx, event: StoredEvent, work: BatchWork) -> None:
        if event.type == RETRACTED_TYPE:
            if self._undo is not None:
                await self._compensate(tx, event, self._undo)
                return
            if self.watch is not None:
                self.watch.note_retraction(tx.conn, event, work.retractions)
                if not self._takes_retractions:
                    return
        recorded = decoded(self.codec, event)
        handler = self._dispatch(recorded)
        name = self.projection.name
        if handler is None:
            raise HandlerError(
                name,
                event.position,
                f"no handler takes {event.type} stored at schema v{event.schema_version} "
                f"occurred at {event.occurred_at.isoformat()}",
            )
        result = await handler(tx, recorded)
        if result is not None:
            raise HandlerError(
                name,
                event.position,
                f"handler {getattr(handler, '__name__', handler)} returned "
                f"{type(result).__name__}; handlers must return None",
            )

    async def _compensate(self, tx: Tx, event: StoredEvent, undo: RetractionHandler) -> None:
        """Undo a retracted event's effect; a type this projection never took has none."""
        body = parse_retraction(event)
        if body is None or body.original_type not in self.names:
            return
        pair = await retraction_pair(self.journal, self.codec, event)
        await undo(tx, pair.retraction, pair.original)

    def hold(self, tx: Tx, event: StoredEvent, work: BatchWork) -> None:
        """Park an event behind an earlier parked event of its stream (policy ``continue``)."""
        detail = f"held behind an earlier parked event of {event.stream}"
        _park(tx, event, "held", detail, traceback="", attempts=0)
        work.parked += 1
        work.exceptions.append((event.position, Outcome.PARKED, detail))

    def park_failed(
        self, tx: Tx, event: StoredEvent, work: BatchWork, error: BaseException, attempts: int
    ) -> int:
        text = f"{type(error).__name__}: {error}"
        traceback = "".join(tb.format_exception(error))
        ident = _park(tx, event, "failed", text, traceback=traceback, attempts=attempts)
        work.parked += 1
        work.blocked.add(event.stream)
        work.exceptions.append((event.position, Outcome.PARKED, text))
        return ident


def _park(
    tx: Tx, event: StoredEvent, kind: str, error: str, *, traceback: str, attempts: int
) -> int:
    """Park ``event`` in the ledger under its own position, stream and identity."""
    return ledger.park(
        tx.conn,
        position=event.position,
        stream=event.stream,
        version=event.version,
        event_id=str(event.event_id),
        type_name=event.type,
        kind=kind,
        error=error,
        traceback=traceback,
        attempts=attempts,
    )


def subscribed_names(projection: Projection, codec: Codec) -> frozenset[str]:
    """Stored type names (aliases included) the projection has handlers for."""
    names: set[str] = set()
    for cls in projection.event_types:
        spec = codec.registry.for_class(cls)
        names.add(spec.name)
        names.update(spec.aliases)
    return frozenset(names)


def _compensation(projection: Projection) -> tuple[Compensation, RetractionHandler | None]:
    """The projection's declared compensation; a retraction handler excludes
    ``@handles(EventRetracted)``, which would take the same events."""
    kind, undo = compensation_of(projection)
    if undo is not None and EventRetracted in projection.handlers:
        raise RegistrationError(
            f"{type(projection).__qualname__} has both @handles_retraction and "
            "@handles(EventRetracted); declare one"
        )
    return kind, undo
