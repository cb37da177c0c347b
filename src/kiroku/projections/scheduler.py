"""The host's default answer to "a retraction calls for a rebuild": a background
task per projection, at most one at a time (see ``rebuild_needed``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

__all__ = ["PendingRebuilds", "RebuildScheduler"]

log = logging.getLogger("kiroku.projections")


class PendingRebuilds(Protocol):
    async def rebuild_if_pending(self, name: str) -> bool:
        """Rebuild ``name`` if its store notes a retraction; False if none is noted."""
        ...


class RebuildScheduler:
    """The host's default ``on_rebuild_needed``: a background task per projection.

    At most one task per projection; the host's ``rebuild_if_pending`` rebuilds
    until the new generation carries no note, so a call that finds a task
    running only asks to look again once it ends (the last check may have just
    passed). Failures are logged; the note stays in the store for the next try.
    """

    def __init__(self, host: PendingRebuilds) -> None:
        self.host = host
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.closed = False
        self._again: set[str] = set()

    def __call__(self, name: str) -> None:
        if self.closed:
            return
        task = self.tasks.get(name)
        if task is not None and not task.done():
            if name not in self._again:
                self._again.add(name)
                task.add_done_callback(lambda t: self._ended(name, t))
            return
        self.tasks[name] = asyncio.create_task(self._run(name), name=f"rebuild {name}")

    def _ended(self, name: str, task: asyncio.Task[None]) -> None:
        self._again.discard(name)
        if not task.cancelled():
            self(name)

    async def _run(self, name: str) -> None:
        try:
            await self.host.rebuild_if_pending(name)
        except Exception:
            log.exception("rebuild of %s after a retraction failed; it stays pending", name)

    async def join(self) -> None:
        """Wait until no rebuild is running or about to start (tests, orderly shutdowns)."""
        while running := [t for t in self.tasks.values() if not t.done()]:
            await asyncio.gather(*running, return_exceptions=True)
            await asyncio.sleep(0)  # done callbacks may start the next round

    async def close(self) -> None:
        self.closed = True
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
