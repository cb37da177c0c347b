"""Deciders: an aggregate as three pure functions.

``initial``  the state before any event.
``decide``   command + state -> the events it produces; raise a DomainError to reject.
``evolve``   state + event -> the next state; never decides, never fails on a
             recorded event, never does I/O.

Keeping these pure is what lets the runtime keep state in memory, retry a
command after a concurrency conflict, rebuild any past state, and lets tests be
plain given/when/then tables (see ``kiroku.testing``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

from kiroku.domain.envelope import JSON

__all__ = ["Decider", "SnapshotUpcaster"]

SnapshotUpcaster: TypeAlias = Callable[[dict[str, JSON]], dict[str, JSON]]
"""Turns a snapshot's stored state (a JSON object) at one state_version into the next."""

S = TypeVar("S")
C = TypeVar("C")
E = TypeVar("E")


class Decider(Generic[S, C, E]):
    """Subclass with ``category``, ``initial``, ``decide`` and ``evolve``.

    ``state_version`` is stored with every snapshot: bump it when the state's
    shape changes, and snapshots of the old shape are ignored and the state is
    rebuilt from events — unless ``snapshot_upcasters`` maps the old version to
    a function that turns the stored JSON object into the next version's shape
    (a chain ``{1: v1_to_v2, 2: v2_to_v3}`` is applied step by step).
    ``depends_on`` names the categories whose events this aggregate's commands
    may be caused by, for the event catalog's cycle check.
    """

    category: ClassVar[str]
    initial: S
    state_version: ClassVar[int] = 1
    snapshot_upcasters: ClassVar[Mapping[int, SnapshotUpcaster]] = {}
    depends_on: ClassVar[tuple[str, ...]] = ()

    def decide(self, command: C, state: S) -> Sequence[E]:
        raise NotImplementedError(f"{type(self).__qualname__}.decide")

    def evolve(self, state: S, event: E) -> S:
        raise NotImplementedError(f"{type(self).__qualname__}.evolve")

    def fold(self, events: Iterable[E], state: S | None = None) -> S:
        """Apply ``events`` in order, starting from ``state`` (``initial`` if omitted)."""
        current = self.initial if state is None else state
        for event in events:
            current = self.evolve(current, event)
        return current

    @property
    def state_type(self) -> type[S]:
        return type(self.initial)

    # A snapshot stores ``snapshot_of(state)``, a value of ``snapshot_type``, which
    # is the state itself unless a decider keeps its state in a form that does not
    # encode as it is (e.g. shared arrays) and overrides all three.

    @property
    def snapshot_type(self) -> type[Any]:
        return self.state_type

    def snapshot_of(self, state: S) -> object:
        return state

    def from_snapshot(self, stored: object) -> S:
        return stored  # type: ignore[return-value]  # decoded as snapshot_type, the state type
