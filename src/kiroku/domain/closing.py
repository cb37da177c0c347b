"""Ending things: ``async with thing:`` for the objects whose lifetime ends in
``close()``, and ``cancelled`` for the background task a ``close`` or ``stop`` ends.

Journals and the runtime are opened by a classmethod or constructor and then
closed; this gives them the same context-manager behaviour from one place.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Self

__all__ = ["ClosesOnExit", "cancelled"]


async def cancelled(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (None: nothing to do) and wait until it has ended; the
    ``CancelledError`` it ends with stays here."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class ClosesOnExit:
    """``__aenter__`` returns the object as it is; ``__aexit__`` awaits ``close()``."""

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
