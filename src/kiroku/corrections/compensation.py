"""How a consumer that already acted on an event declares its compensation.

Two ways, chosen per consumer:

``@handles_retraction``  a method ``async (self, tx, retraction, original)``
    that undoes the original's effect in the same transaction as the
    consumer's checkpoint (so it runs exactly once in effect).
``on_retraction = "rebuild"``  the consumer is rebuilt from scratch with the
    retracted events excluded (``without_retracted``); right for read models
    whose effect is hard to undo piecemeal. A projection runner notes the
    rebuild in its store when it meets the retraction, so the journal, not
    the process that retracted, makes sure it happens
    (``kiroku.projections.rebuild_needed``).

A consumer declaring neither is told nothing; the retraction report names it
(from the ledger) so an operator can decide. The projection runner asks
``compensation_of`` once at start-up and ``retraction_pair`` per retraction.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kiroku.corrections.events import EventRetracted, parse_retraction
from kiroku.domain.envelope import Recorded, StoredEvent
from kiroku.errors import RegistrationError
from kiroku.journal.protocol import Journal
from kiroku.schema.codec import Codec

__all__ = [
    "Compensation",
    "RetractionHandler",
    "RetractionPair",
    "compensation_of",
    "handles_retraction",
    "retraction_pair",
]

_MARK = "__kiroku_retraction_handler__"
F = TypeVar("F", bound=Callable[..., Awaitable[None]])
RetractionHandler = Callable[[Any, Recorded[EventRetracted], Recorded[object]], Awaitable[None]]
"""A bound handler: ``(tx, retraction, original)``; ``tx`` is the runner's transaction."""


class Compensation(enum.Enum):
    NONE = "none"
    HANDLER = "handler"
    REBUILD = "rebuild"


def handles_retraction(fn: F) -> F:
    """Mark the method that undoes a retracted event's effect."""
    is_async = inspect.iscoroutinefunction(fn)  # kept apart: the TypeGuard would narrow F away
    if not is_async:
        raise RegistrationError(f"@handles_retraction needs an async function, got {fn!r}")
    setattr(fn, _MARK, True)
    return fn


def compensation_of(consumer: object) -> tuple[Compensation, RetractionHandler | None]:
    """The consumer's declared strategy, and its bound handler if it has one."""
    marked = [
        name for name, member in inspect.getmembers(type(consumer)) if getattr(member, _MARK, False)
    ]
    if len(marked) > 1:
        raise RegistrationError(
            f"{type(consumer).__qualname__} has {len(marked)} retraction handlers "
            f"({', '.join(marked)}); declare one"
        )
    rebuild = getattr(consumer, "on_retraction", None) == Compensation.REBUILD.value
    if marked and rebuild:
        raise RegistrationError(
            f"{type(consumer).__qualname__} declares both a retraction handler and rebuild"
        )
    if marked:
        handler: RetractionHandler = getattr(consumer, marked[0])
        return Compensation.HANDLER, handler
    return (Compensation.REBUILD if rebuild else Compensation.NONE), None


@dataclass(frozen=True, slots=True)
class RetractionPair:
    retraction: Recorded[EventRetracted]
    original: Recorded[object]


async def retraction_pair(journal: Journal, codec: Codec, stored: StoredEvent) -> RetractionPair:
    """The decoded retraction and the decoded event it voids, for a handler call.

    Raises ValueError if ``stored`` is not a retraction.
    """
    body = parse_retraction(stored)
    if body is None:
        raise ValueError(f"position {stored.position} is {stored.type}, not a retraction")
    original = codec.decode(await journal.get_event(body.retracted_position))
    notice = stored.decoded(body)
    return RetractionPair(notice, original)
