"""Server-sent events: the wire format, and the response that drains one listener's queue.

A stream first replays what its client has not seen, by its own cursor, from the
read model (a reconnect with ``Last-Event-ID`` resumes the same way), then sends
the chunks the fan-out hands it (see ``kiroku.api.fanout``). The listener is
registered *before* the replay reads, so nothing committed in between is lost;
frames the replay already sent are skipped by ordinal, so nothing is sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

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


class SseResponse(Response):
    """A ``text/event-stream`` over ``listener``, which leaves ``fanout`` however the stream ends.

    Not a ``StreamingResponse``: that one runs each stream as an async generator
    inside a task group with a second task watching for the disconnect, which
    made an idle listener cost a task group, a cancel scope, two tasks and their
    frames. Here the request's own task writes what the listener holds, one
    ``send`` per wake however many chunks were queued, and a single small task
    waits for the disconnect and ends the listener. Flow control is the
    server's: its ``send`` waits only while the socket's write buffer is full.
    """

    media_type = "text/event-stream"

    def __init__(
        self, fanout: Fanout, listener: Listener, cursor: int, replay: Replay | None = None
    ) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers(_HEADERS)
        self._fanout, self._listener = fanout, listener
        self._cursor, self._replay = cursor, replay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.ensure_future(self._until_gone(receive))
        try:
            start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
            await send(start)
            await self._stream(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away mid-write (ASGI 2.4 servers raise it)
            pass
        finally:
            gone.cancel()
            self._fanout.discard(self._listener)

    async def _until_gone(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._listener.end(b"", keep_pending=False)

    async def _stream(self, send: Send) -> None:
        listener, cursor = self._listener, self._cursor
        await send(_body(b"retry: 2000\n\n"))
        while self._replay is not None and not listener.ended:
            page = await self._replay(cursor)
            if not page:
                break
            cursor = page[-1][0]
            await send(_body(b"".join(frame for _, frame in page)))
        while True:
            chunks = await listener.take()
            if chunks is None:
                await send(_body(_KEEP_ALIVE))
                continue
            out = b"".join([chunk.after(cursor) for chunk in chunks])
            for chunk in chunks:
                cursor = max(cursor, chunk.last)
            final = listener.final()
            if final:
                out += final
            if out:
                await send(_body(out))
            if final is not None:
                return


def _body(data: bytes) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": True}
