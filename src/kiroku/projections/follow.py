"""Following a source in the background, through storage errors.

A storage error (disk full, I/O error, a lock held too long) is the store's
condition, not the events': the batch was rolled back and nothing moved. So a
following runner waits with backoff and goes on from its checkpoint once the
condition clears, instead of stopping until someone notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from kiroku.errors import ReadStoreError
from kiroku.projections.lanes import GenerationMovedError
from kiroku.projections.model import RunnerState

__all__ = ["STORAGE_RETRY_FIRST", "STORAGE_RETRY_MAX", "Follower", "follow"]

log = logging.getLogger("kiroku.projections")
STORAGE_RETRY_FIRST = 0.1  # seconds before the first retry after a storage error
STORAGE_RETRY_MAX = 5.0  # the backoff doubles up to this


class Follower(Protocol):
    name: str
    state: RunnerState
    error: str | None
    storage_failures: int
    on_moved: Callable[[], Awaitable[None]] | None

    async def run(self) -> None: ...

    def reload(self) -> None: ...


async def follow(runner: Follower) -> None:
    """``runner.run()`` until it returns; a ``ReadStoreError`` is retried with backoff."""
    delay = STORAGE_RETRY_FIRST
    while True:
        try:
            await runner.run()
            return
        except ReadStoreError as e:
            if isinstance(e, GenerationMovedError) and runner.on_moved is not None:
                runner.state, runner.error = RunnerState.STOPPED, None
                await runner.on_moved()  # a lane: its successor follows the new generation
                return
            runner.storage_failures += 1
            runner.state = RunnerState.RETRYING
            runner.error = f"{e}; retrying in {delay:.1f}s"
            log.error("%s: %s", runner.name, runner.error)
        await asyncio.sleep(delay)
        delay = min(delay * 2, STORAGE_RETRY_MAX)
        with contextlib.suppress(ReadStoreError):  # run() reports it again if it lasts
            runner.reload()
