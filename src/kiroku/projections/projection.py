"""Projections: a stable name plus one handler per event type (and per version or era).

A handler is picked for each event from what was *stored* — the schema version
it was written with, or when it occurred — so a consumer that must treat old
and new events differently declares two handlers instead of growing ifs
(pitfall 1). Selectors of one type may not overlap: which handler runs must be
obvious from the declarations, and a clash is raised when the class is defined.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, TypeAlias, TypeVar

from kiroku.domain.envelope import Recorded
from kiroku.errors import RegistrationError

if TYPE_CHECKING:
    from kiroku.projections.readstore import Tx

__all__ = ["HandlerFn", "Projection", "Selector", "handles"]

HandlerFn: TypeAlias = Callable[..., Awaitable[object]]
F = TypeVar("F", bound=HandlerFn)
IndexSpec: TypeAlias = "str | tuple[str, ...]"

_HANDLES_ATTR = "__kiroku_handles__"


@dataclass(frozen=True, slots=True)
class Selector:
    """Which stored events of ``event_type`` a handler takes.

    ``versions``: stored schema versions (None = all); ``after`` inclusive and
    ``before`` exclusive bounds on ``occurred_at`` (None = unbounded).
    """

    event_type: type
    versions: range | None = None
    after: datetime | None = None
    before: datetime | None = None

    @property
    def unconditional(self) -> bool:
        return self.versions is None and self.after is None and self.before is None

    def matches(self, schema_version: int, occurred_at: datetime) -> bool:
        if self.versions is not None and schema_version not in self.versions:
            return False
        if self.after is not None and occurred_at < self.after:
            return False
        return self.before is None or occurred_at < self.before

    def overlaps(self, other: Selector) -> bool:
        return _versions_overlap(self.versions, other.versions) and _times_overlap(self, other)

    def describe(self) -> str:
        parts = [self.event_type.__qualname__]
        if self.versions is not None:
            parts.append(f"versions={self.versions.start}..{self.versions.stop - 1}")
        if self.after is not None:
            parts.append(f"after={self.after.isoformat()}")
        if self.before is not None:
            parts.append(f"before={self.before.isoformat()}")
        return " ".join(parts)


def _versions_overlap(a: range | None, b: range | None) -> bool:
    if a is None or b is None:
        return True
    return bool(set(a) & set(b))


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _times_overlap(a: Selector, b: Selector) -> bool:
    a_lo, b_lo = a.after or _EARLIEST, b.after or _EARLIEST
    a_hi, b_hi = a.before or _LATEST, b.before or _LATEST
    return a_lo < b_hi and b_lo < a_hi


def handles(
    event_type: type,
    *,
    versions: range | None = None,
    after: datetime | None = None,
    before: datetime | None = None,
) -> Callable[[F], F]:
    """Mark an ``async def handler(self, tx, e: Recorded[T]) -> None`` for ``event_type``.

    Stack several ``@handles`` to take more than one type. ``versions`` selects by
    the schema version the event was stored with; ``after``/``before`` by its
    ``occurred_at`` (timezone-aware).
    """
    for bound in (after, before):
        if bound is not None and bound.tzinfo is None:
            raise RegistrationError(
                f"@handles({event_type.__qualname__}): {bound} needs a timezone"
            )
    if versions is not None and (len(versions) == 0 or versions.step != 1):
        raise RegistrationError(
            f"@handles({event_type.__qualname__}): versions must be a non-empty range, "
            f"got {versions!r}"
        )
    selector = Selector(event_type, versions, after, before)

    def mark(fn: F) -> F:
        previous: tuple[Selector, ...] = getattr(fn, _HANDLES_ATTR, ())
        setattr(fn, _HANDLES_ATTR, (*previous, selector))
        return fn

    return mark


class Projection:
    """Subclass with a stable ``name`` and ``@handles`` methods.

    ``indexes`` maps a collection to the JSON paths to index (a tuple of paths
    makes one composite index). ``setup`` may create plain SQL tables in the
    same read database. Handlers must return None and must do nothing outside
    ``tx``: the runner may run a batch again after a rollback.

    ``replay_safe = True`` declares the handlers idempotent over the read model
    as it stands: delivering events P.. again to a model that already holds
    them gives the model that delivering them once gave (upserts, patches to
    absolute values, set-like membership; no counters, no plain INSERTs). Only
    such a projection may be replayed in place; any other is rebuilt instead
    (``ReplayRefusedError`` says so before anything runs).

    ``partition_local = True`` declares that no document is read and rewritten
    by events of two different streams (every key names the event's own
    aggregate). Projectors sharing the partitions (lanes) then commit side by
    side; any other projection's lanes take turns, so that two of them never
    read-modify-write one document at once (``kiroku.projections.lanes``).
    """

    name: ClassVar[str]
    replay_safe: ClassVar[bool] = False
    partition_local: ClassVar[bool] = False
    indexes: ClassVar[Mapping[str, Sequence[IndexSpec]]] = {}
    handlers: ClassVar[Mapping[type, tuple[tuple[Selector, str], ...]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = _collect(cls)

    async def setup(self, tx: Tx) -> None:
        """Create the projection's own SQL tables, if any; runs in a transaction on open."""

    @property
    def event_types(self) -> tuple[type, ...]:
        return tuple(self.handlers)

    def handler_for(self, event: Recorded[object]) -> HandlerFn | None:
        """The bound handler whose selector takes ``event``, or None."""
        for selector, attr in self.handlers.get(type(event.data), ()):
            if selector.matches(event.schema_version, event.occurred_at):
                fn: HandlerFn = getattr(self, attr)
                return fn
        return None


def _collect(cls: type) -> dict[type, tuple[tuple[Selector, str], ...]]:
    found: dict[type, list[tuple[Selector, str]]] = {}
    seen: set[str] = set()
    for klass in cls.__mro__:
        for attr, fn in vars(klass).items():
            if attr in seen:
                continue
            seen.add(attr)
            for selector in getattr(fn, _HANDLES_ATTR, ()):
                found.setdefault(selector.event_type, []).append((selector, attr))
    for event_type, entries in found.items():
        _check_overlaps(cls, event_type, entries)
    return {t: tuple(v) for t, v in found.items()}


def _check_overlaps(cls: type, event_type: type, entries: list[tuple[Selector, str]]) -> None:
    for i, (a, a_name) in enumerate(entries):
        for b, b_name in entries[i + 1 :]:
            if a.overlaps(b):
                raise RegistrationError(
                    f"{cls.__qualname__}: handlers {a_name} ({a.describe()}) and "
                    f"{b_name} ({b.describe()}) both take {event_type.__qualname__}; "
                    "narrow their versions or time ranges so exactly one applies"
                )
