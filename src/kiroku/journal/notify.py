"""Wake-ups for readers: appends announce the new head; readers wait for it.

This is how ``subscribe`` follows the journal without polling. A reader that
has read up to ``after`` calls ``wait_beyond(after)``; it returns at once if the
head is already past ``after`` (so a wake-up that raced the read is not lost),
otherwise when the next append commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from kiroku.domain.envelope import StoredEvent

__all__ = ["AppendSignal", "follow"]


class AppendSignal:
    """A broadcast of the head position, owned by one event loop."""

    def __init__(self, head: int = 0) -> None:
        self.head = head
        self.closed = False
        self._changed = asyncio.Event()

    def notify(self, head: int) -> None:
        """Call on the loop after a commit (from a thread: ``loop.call_soon_threadsafe``)."""
        if head > self.head:
            self.head = head
            self._changed.set()
            self._changed = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self._changed.set()

    async def wait_beyond(self, after: int) -> bool:
        """Wait until the head passes ``after`` (False if closed first).

        Bound the wait with ``asyncio.timeout`` around the call.
        """
        while self.head <= after and not self.closed:
            await self._changed.wait()
        return self.head > after


async def follow(
    read_all: Callable[[int, int], Awaitable[list[StoredEvent]]],
    signal: AppendSignal,
    after: int,
    batch_size: int,
) -> AsyncIterator[list[StoredEvent]]:
    """Read batches after ``after`` until caught up, then sleep until the next append.

    An empty read although the head seen *before* it was already past ``after``
    proves the events up to that head are gone (deleted behind a snapshot: they
    had committed before the read began), so the reader moves past them rather
    than spinning on a head it can never reach by reading.
    """
    while not signal.closed:
        seen = signal.head
        batch = await read_all(after, batch_size)
        if batch:
            after = batch[-1].position
            yield batch
        elif seen > after:
            after = seen
        else:
            await signal.wait_beyond(after)
