"""Server-sent events: the wire format, and the response that drains one listener's queue.

A stream first replays what its client has not seen, by its own cursor, from the
read model (a reconnect with ``Last-Event-ID`` resumes the same way), then sends
the chunks the fan-out hands it (see ``kiroku.api.fanout``). The listener is
registered *before* the replay reads, so nothing committed in between is lost;
frames the replay already sent are skipped by ordinal, so nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from kiroku.api.frames import format_event
from kiroku.api.params import parse_int

if TYPE_CHECKING:
    from kiroku.api.fanout import Fanout, Listener

__all__ = ["Replay", "SseResponse", "format_event", "last_event_id"]

Replay = Callable[[int], Awaitable[Sequence[tuple[int, bytes]]]]
"""``replay(cursor)``: a page of encoded frames after ``cursor``, as ``(ordinal, frame)``."""

_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_KEEP_ALIVE = b": keep-alive\n\n"


def last_event_id(request: Request) -> int | None:
    """The ``Last-Event-ID`` a reconnecting client sends, checked like any integer (400 if bad)."""
    raw = request.headers.get("last-event-id")
    return None if raw is None else parse_int(raw, "Last-Event-ID")


async def _body(listener: Listener, cursor: int, replay: Replay | None) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"
    while replay is not None and not listener.ended:
        page = await replay(cursor)
        if not page:
            break
        cursor = page[-1][0]
        yield b"".join(frame for _, frame in page)
    while True:
        chunks = await listener.take()
        if chunks is None:
            yield _KEEP_ALIVE
            continue
        out = b"".join(chunk.after(cursor) for chunk in chunks)
        cursor = max([cursor, *(chunk.last for chunk in chunks)])
        if out:
            yield out
        final = listener.final()
        if final is not None:
            if final:
                yield final
            return


class SseResponse(StreamingResponse):
    """A ``text/event-stream`` over ``listener``, which leaves ``fanout`` however the stream ends.

    Starlette may cancel a body that never started (a client gone at once); the
    listener is removed here, around the whole response, so none is left behind.
    """

    def __init__(
        self, fanout: Fanout, listener: Listener, cursor: int, replay: Replay | None = None
    ) -> None:
        super().__init__(
            _body(listener, cursor, replay),
            media_type="text/event-stream", headers=_HEADERS,
        )  # fmt: skip
        self._fanout, self._listener = fanout, listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._fanout.discard(self._listener)
