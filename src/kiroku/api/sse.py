"""Server-sent events: the wire format, and a hub that wakes streams when data arrives.

The hub carries no data, only "something changed for this key, up to position
N". Each stream then reads what it has not sent from the read model, so a slow
client never makes the hub buffer, a woken stream never misses an item that
arrived while it was sending (it reads by its own cursor), and a reconnecting
client resumes from ``Last-Event-ID`` by the same read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from starlette.responses import StreamingResponse

__all__ = ["EventHub", "SseItem", "event_stream", "format_event"]

SseItem = tuple[str, str, str]
"""``(id, event name, data)``."""


def format_event(data: str, *, ident: str | None = None, event: str | None = None) -> bytes:
    lines = []
    if ident is not None:
        lines.append(f"id: {ident}")
    if event is not None:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


class EventHub:
    """Wake-ups per key, set from the read side after each committed batch."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self.closed = False
        self.listeners = 0

    def notify(self, key: str) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    def close(self) -> None:
        """End every stream (server shutdown): they return after their current send."""
        self.closed = True
        for event in self._events.values():
            event.set()
        self._events.clear()

    def waiter(self, key: str) -> asyncio.Event:
        """Take the event to wait on *before* reading, so a notify in between is not lost."""
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = asyncio.Event()
        if self.closed:
            event.set()
        return event


async def _items(
    hub: EventHub,
    key: str,
    cursor: int,
    read: Callable[[int], Awaitable[Sequence[tuple[int, SseItem]]]],
    heartbeat: float,
) -> AsyncIterator[bytes]:
    hub.listeners += 1
    try:
        yield b"retry: 2000\n\n"
        while not hub.closed:
            woken = hub.waiter(key)
            batch = await read(cursor)
            for after, (ident, name, data) in batch:
                cursor = after
                yield format_event(data, ident=ident, event=name)
            try:
                await asyncio.wait_for(woken.wait(), heartbeat)
            except TimeoutError:
                yield b": keep-alive\n\n"
    finally:
        hub.listeners -= 1


def event_stream(
    hub: EventHub,
    key: str,
    cursor: int,
    read: Callable[[int], Awaitable[Sequence[tuple[int, SseItem]]]],
    *,
    heartbeat: float = 15.0,
) -> StreamingResponse:
    """A ``text/event-stream`` response: ``read(cursor)`` returns ``(new cursor, item)`` pairs."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    body = _items(hub, key, cursor, read, heartbeat)
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
