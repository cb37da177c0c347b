"""Telling listeners about a committed batch, and measuring the rate of batches.

A listener is the runner's only outward call after a commit; a failing one is
logged and never undoes or stops anything (the batch is committed already).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from kiroku.projections.model import BatchCommitted

__all__ = ["Listener", "Rate", "notify"]

log = logging.getLogger("kiroku.projections")
Listener = Callable[[BatchCommitted], Awaitable[None] | None]


def notify(listeners: Iterable[Listener], note: BatchCommitted) -> None:
    """Call each listener; an awaitable it returns runs on its own, failures logged."""
    for listener in list(listeners):
        try:
            result = listener(note)
            if result is not None:
                task = asyncio.ensure_future(result)
                task.add_done_callback(_log_failure)
        except Exception:
            log.exception("listener of %s failed on batch %s", note.projection, note.batch)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a batch listener failed", exc_info=task.exception())


class Rate:
    """Events per second over the last ``window`` seconds of commits."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._marks: deque[tuple[float, int]] = deque(maxlen=64)

    def add(self, events: int) -> None:
        self._marks.append((time.monotonic(), events))

    def per_second(self) -> float:
        now = time.monotonic()
        recent = [(t, n) for t, n in self._marks if now - t <= self.window]
        if len(recent) < 2:
            return 0.0
        span = now - recent[0][0]
        return sum(n for _, n in recent[1:]) / span if span > 0 else 0.0
