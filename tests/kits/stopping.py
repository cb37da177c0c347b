"""Stopping a task-owning object (a relay, a runner, a host) within a bound.

Their ``stop`` awaits the task it cancelled; a task that never ends (a stop the
driver swallowed) would hang the test, and a timeout around ``await task`` does
not help: the awaiting task waits for the awaited one to finish. ``stops`` waits
beside it instead, and fails saying what did not stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

__all__ = ["BOUND", "stops"]

BOUND = 30.0
"""Seconds: far beyond any stop that works, on a loaded machine too."""


async def stops(stop: Awaitable[None], what: str, within: float = BOUND) -> None:
    """``stop`` returns within ``within`` seconds, or the test fails naming ``what``."""
    task = asyncio.ensure_future(stop)
    done, _ = await asyncio.wait({task}, timeout=within)
    assert done, f"{what} did not stop within {within:g} s: a stop was lost"
    task.result()
