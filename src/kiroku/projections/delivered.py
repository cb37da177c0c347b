"""Has a runner processed a position? Not always "is its checkpoint past it".

A PostgreSQL journal delivers events in ``(tx, position)`` order (docs/journal.md:
readers never skip): with several writers, an event numbered earlier but
committed in a newer transaction comes after one with a higher position. A
runner's checkpoint is the highest position it committed, so ``position >= P``
can hold while P is still on its way, and read-your-writes would answer early.

The runner's place in the delivery order is the last event it took (its
cursor). A journal that delivers out of position order says so by offering
``read_order``; P is processed once the cursor's ``(tx, position)`` is at or past
P's. Journals delivering in position order (SQLite, memory) need no lookup.
Bus-fed runners follow the same order: the relay publishes in the journal's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["DeliveryOrder", "processed"]


@runtime_checkable
class DeliveryOrder(Protocol):
    async def read_order(self, positions: Sequence[int]) -> dict[int, tuple[int, int]]:
        """Each position's place in the delivery order; absent when there is no such event."""
        ...


async def processed(journal: object, cursor: int, highest: int, wanted: int) -> bool:
    """Whether a runner whose last taken event is ``cursor`` and whose highest
    committed position is ``highest`` has processed position ``wanted``.

    ``cursor`` 0 is a runner that has taken nothing since it started, or one
    that follows another process's commits (it only reloads the checkpoint):
    the checkpoint is then all there is to go by."""
    if highest < wanted:
        return False
    if cursor in (0, wanted) or not isinstance(journal, DeliveryOrder):
        return True
    order = await journal.read_order([cursor, wanted])
    if wanted not in order or cursor not in order:
        return True  # deleted by ``delete_before``, or no event there: nothing to wait for
    return order[cursor] >= order[wanted]
