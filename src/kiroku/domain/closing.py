"""``async with thing:`` for the objects whose lifetime ends in ``close()``.

Journals and the runtime are opened by a classmethod or constructor and then
closed; this gives them the same context-manager behaviour from one place.
"""

from __future__ import annotations

from typing import Self

__all__ = ["ClosesOnExit"]


class ClosesOnExit:
    """``__aenter__`` returns the object as it is; ``__aexit__`` awaits ``close()``."""

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
