"""A room's read models as they were at a past position, from that room's events only.

The same projection handlers that serve the present run over the room's own
stream (cut at the position asked for) into a throwaway store, so a past view
can never disagree with what live processing produced then, and it costs the
size of one room's history rather than the whole journal's.

Retractions are honoured whenever they were made: as of P, an event retracted
at or before P is gone, and so is one retracted after P. A retraction says the
event should not have happened (a message posted to the wrong room, a secret
pasted by mistake); a past view that brought it back would undo the correction
for anyone who asks for an earlier position. The original stays in the journal,
where admins see it (``GET /api/admin/events``).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path

from kiroku import Codec, Journal, OutsideJournalError, StoredEvent
from kiroku.api.params import parse_as_of
from kiroku.corrections import mask_retracted, parse_retraction
from kiroku.projections import Projection, ProjectionRunner, ProjectionStore, ReadView

__all__ = ["resolve_as_of", "room_as_of"]


class _StreamUntil:
    """An EventSource over one stream's events up to a global position, then the end."""

    def __init__(self, journal: Journal, stream: str, until: int) -> None:
        self.journal = journal
        self.stream = stream
        self.until = until

    async def batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        # every retraction the stream holds, made before or after ``until``: a retracted
        # event is treated as never having happened, in the past as in the present.
        # Masked, not dropped: the runner would wait on the gap in the stream's versions.
        events = await self.journal.read_stream(self.stream)
        voided = {r.retracted_position for r in map(parse_retraction, events) if r is not None}
        batch = [e for e in mask_retracted(events, voided) if after < e.position <= self.until]
        if batch:
            yield batch


async def resolve_as_of(journal: Journal, raw: str) -> int:
    """``as_of`` is a global position (digits) or an ISO 8601 time (UTC if no zone given)."""
    parsed = parse_as_of(raw)
    if isinstance(parsed, datetime):
        return await journal.position_at(parsed)
    head = await journal.head_position()
    if parsed > head:
        raise OutsideJournalError(f"as_of={parsed} is past the journal's head ({head})")
    return parsed


@contextlib.asynccontextmanager
async def room_as_of(
    projection: Projection, journal: Journal, codec: Codec, stream: str, position: int
) -> AsyncIterator[ReadView]:
    """``async with room_as_of(Timeline(), journal, codec, "room-1", 120) as view: ...``"""
    with tempfile.TemporaryDirectory(prefix="kiroku-room-") as tmp:
        store = ProjectionStore(Path(tmp) / "past.db", projection.name)
        source = _StreamUntil(journal, stream, position)
        runner = ProjectionRunner(projection, journal, store, codec=codec, source=source)
        try:
            await runner.run()
            view = store.reader()
            try:
                yield view
            finally:
                view.close()
        finally:
            store.close()
