"""The event browser's list at journal scale: newest first, cursors, jumps, filters.

``GET /api/admin/events`` answers one page of events, newest first, with a
``next`` cursor (``{"before": P}``) for the page of older ones, so the newest of
a million events are one request away and none is ever a million rows. A page
can start at a position (``before=P+1``), at a time (``at=ISO``: the events at
or before it) or at an event id (``id=UUID``); ``type`` and ``stream`` filter
it. A filtered page scans at most ``SCAN_BUDGET`` events backwards and then
answers what it found with a cursor where it stopped, so a rare type costs
several short requests rather than one long one. ``after=P`` keeps the old
oldest-first paging.

Each event says whether it was retracted. The retractions are indexed once
(a full scan on the first request) and then kept current from where the index
stopped, so marking a page costs a set lookup per event.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from kiroku import JSON, InputError, StoredEvent
from kiroku.apps.chat.http_common import int_param, node_of, require_admin
from kiroku.corrections.events import parse_retraction
from kiroku.domain import validate_stream
from kiroku.journal.protocol import Journal
from kiroku.schema import decode_json

__all__ = ["RetractedIndex", "event_json", "events"]

SCAN_BUDGET = 10_000
"""Events one filtered request reads at most before answering with a cursor."""
_CHUNK = 500


def event_json(e: StoredEvent, retracted: bool = False) -> dict[str, JSON]:
    return {
        "position": e.position, "stream": e.stream, "version": e.version, "type": e.type,
        "schema_version": e.schema_version, "event_id": str(e.event_id),
        "occurred_at": e.occurred_at.isoformat(), "correlation_id": e.correlation_id,
        "causation_id": e.causation_id, "metadata": dict(e.metadata), "data": decode_json(e.data),
        "retracted": retracted,
    }  # fmt: skip


class RetractedIndex:
    """The positions the journal holds a retraction for, kept current incrementally."""

    def __init__(self) -> None:
        self.voided: set[int] = set()
        self.scanned = 0
        self.lock = asyncio.Lock()

    async def current(self, journal: Journal) -> set[int]:
        async with self.lock:
            while batch := await journal.read_all(self.scanned, 1000):
                for stored in batch:
                    retraction = parse_retraction(stored)
                    if retraction is not None:
                        self.voided.add(retraction.retracted_position)
                self.scanned = batch[-1].position
        return self.voided


def _index(request: Request) -> RetractedIndex:
    state = request.app.state
    index = getattr(state, "retracted_index", None)
    if index is None:
        index = state.retracted_index = RetractedIndex()
    assert isinstance(index, RetractedIndex)
    return index


def _types(request: Request) -> list[str]:
    """``type=a,b`` exact names; a name ending in ``*`` matches by prefix."""
    raw = request.query_params.get("type", "")
    return [t.strip() for t in raw.split(",") if t.strip()]


def _matches(e: StoredEvent, types: list[str]) -> bool:
    if not types:
        return True
    return any(e.type.startswith(t[:-1]) if t.endswith("*") else e.type == t for t in types)


async def _start(request: Request, journal: Journal, head: int) -> tuple[int, int | None]:
    """The exclusive upper bound of the page, and the event to focus on (if jumped to one)."""
    ident, at = request.query_params.get("id"), request.query_params.get("at")
    if ident:
        try:
            found = await journal.find_event(uuid.UUID(ident))
        except ValueError:
            raise InputError(f"id={ident!r} is not an event id (a UUID)") from None
        return found.position + 1, found.position
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise InputError(f"at={at!r} is not an ISO 8601 time") from None
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        position = await journal.position_at(when)
        return position + 1, position or None
    before = int_param(request, "before", head + 1, low=1)
    assert before is not None
    return min(before, head + 1), None


async def _newest_first(
    journal: Journal, before: int, limit: int, types: list[str]
) -> tuple[list[StoredEvent], int | None]:
    found: list[StoredEvent] = []
    low, budget = before, SCAN_BUDGET
    while low > 1 and len(found) < limit and budget > 0:
        size = min(_CHUNK if types else limit - len(found), low - 1, budget)
        chunk = await journal.read_all(low - 1 - size, size)
        budget -= size
        low -= size
        found.extend(e for e in reversed(chunk) if _matches(e, types))
    if len(found) > limit:  # the cursor moves to just above the last event kept
        low = found[limit - 1].position
        found = found[:limit]
    return found, (low if low > 1 else None)


async def _in_stream(
    journal: Journal, stream: str, before: int, limit: int, types: list[str]
) -> tuple[list[StoredEvent], int | None]:
    older = [e for e in await journal.read_stream(stream) if e.position < before]
    picked = [e for e in reversed(older) if _matches(e, types)]
    page = picked[:limit]
    return page, (page[-1].position if len(picked) > limit else None)


async def events(request: Request) -> JSONResponse:
    require_admin(request)
    journal = node_of(request).read.journal
    limit = int_param(request, "limit", 50, low=1, high=1000) or 50
    stream, types = request.query_params.get("stream", "").strip(), _types(request)
    after = int_param(request, "after")
    head = await journal.head_position()
    focus: int | None = None
    if after is not None:  # oldest first from a position, as before cursors existed
        if stream:
            read = [
                e for e in await journal.read_stream(validate_stream(stream)) if e.position > after
            ]
        else:
            read = await journal.read_all(after, limit if not types else SCAN_BUDGET)
        page = [e for e in read if _matches(e, types)][:limit]
        cursor: dict[str, JSON] | None = {"after": page[-1].position} if page else None
    else:
        before, focus = await _start(request, journal, head)
        if stream:
            page, low = await _in_stream(journal, validate_stream(stream), before, limit, types)
        else:
            page, low = await _newest_first(journal, before, limit, types)
        cursor = {"before": low} if low is not None else None
    voided = await _index(request).current(journal)
    body: dict[str, JSON] = {
        "events": [event_json(e, e.position in voided) for e in page],
        "next": cursor,
        "head": head,
        "focus": focus,
    }
    return JSONResponse(body)
