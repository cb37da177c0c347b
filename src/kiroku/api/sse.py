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
from kiroku.api.params import header, parse_int

if TYPE_CHECKING:
    from kiroku.api.fanout import Fanout, Listener, Sink

__all__ = ["WRITE_BODY", "Replay", "SseResponse", "format_event", "last_event_id"]

WRITE_BODY = "kiroku.write_body"
"""The scope extension under which the server offers a direct body writer (a ``Sink``)."""

Replay = Callable[[int], Awaitable[Sequence[tuple[int, bytes]]]]
"""``replay(cursor)``: a page of encoded frames after ``cursor``, as ``(ordinal, frame)``."""

_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_KEEP_ALIVE = b": keep-alive\n\n"


def last_event_id(request: Request) -> int | None:
    """The ``Last-Event-ID`` a reconnecting client sends, checked like any integer (400 if bad)."""
    raw = header(request.scope, b"last-event-id")
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

    Once live, the stream hands the listener the server's direct body writer
    when the server offers one (the ``kiroku.write_body`` extension in the
    scope, see ``kiroku.api.server``), so that the publisher writes a chunk to
    an idle stream's socket itself rather than waking this task for it.
    """

    media_type = "text/event-stream"

    def __init__(
        self, fanout: Fanout, listener: Listener, cursor: int, replay: Replay | None = None
    ) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers(_HEADERS)
        self._fanout, self._listener = fanout, listener
        listener.cursor = cursor
        self._replay = replay
        self._sink: Sink | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._sink = scope.get("extensions", {}).get(WRITE_BODY)
        gone = asyncio.ensure_future(self._until_gone(receive))
        try:
            start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
            await send(start)
            await self._stream(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away mid-write (ASGI 2.4 servers raise it)
            pass
        finally:
            self._listener.sink = None
            gone.cancel()
            self._fanout.discard(self._listener)

    async def _until_gone(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._listener.end(b"", keep_pending=False)

    async def _stream(self, send: Send) -> None:
        listener = self._listener
        await send(_body(b"retry: 2000\n\n"))
        while self._replay is not None and not listener.ended:
            page = await self._replay(listener.cursor)
            if not page:
                break
            listener.cursor = page[-1][0]
            await send(_body(b"".join(frame for _, frame in page)))
        listener.sink = self._sink  # from here on, idle means parked in take()
        while True:
            chunks = await listener.take()
            if chunks is None:
                await send(_body(_KEEP_ALIVE))
                continue
            out = listener.advance(chunks)
            final = listener.final()
            if final:
                out += final
            if out:
                await send(_body(out))
            if final is not None:
                return


def _body(data: bytes) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": True}
