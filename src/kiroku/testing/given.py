"""Given/when/then for deciders: a business rule as a three-line table.

    given(Room(), RoomOpened("r1")).when(PostMessage("m1", "hi")).then(MessagePosted("m1", "hi"))
    given(Room()).when(PostMessage("m1", "hi")).then_rejects(RoomNotOpenError, match="r1")
    given(Room(), RoomOpened("r1")).when(Close()).then_state(RoomState(open=False))

Deciders are pure, so no journal and no runtime is involved: ``given`` folds
the events into a state, ``when`` decides the command against it, and each
``then`` compares with what was expected, failing with both sides printed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kiroku.domain.decider import Decider
from kiroku.errors import DomainError

__all__ = ["Given", "When", "given"]

S = TypeVar("S")
C = TypeVar("C")
E = TypeVar("E")
X = TypeVar("X", bound=DomainError)


def given(decider: Decider[S, C, E] | type[Decider[S, C, E]], *events: E) -> Given[S, C, E]:
    """Start a scenario: ``decider`` has already recorded ``events`` (none = a new aggregate)."""
    instance = decider() if isinstance(decider, type) else decider
    return Given(instance, tuple(events))


@dataclass(frozen=True, slots=True)
class Given(Generic[S, C, E]):
    decider: Decider[S, C, E]
    history: tuple[E, ...]

    def when(self, command: C) -> When[S, C, E]:
        return When(self, command)

    @property
    def state(self) -> S:
        return self.decider.fold(self.history)

    def describe(self) -> str:
        name = type(self.decider).__qualname__
        if not self.history:
            return f"given a new {name}"
        listed = "".join(f"\n    {e!r}" for e in self.history)
        return f"given {name} after:{listed}"


@dataclass(frozen=True, slots=True)
class When(Generic[S, C, E]):
    given: Given[S, C, E]
    command: C

    def then(self, *expected: E) -> When[S, C, E]:
        """Assert the command decides exactly ``expected`` (nothing, if none given)."""
        actual = self._decide(f"events {_listed(expected)}")
        if list(actual) != list(expected):
            raise AssertionError(
                self._story()
                + f"\n  expected events: {_listed(expected)}\n  actual events:   {_listed(actual)}"
            )
        return self

    def then_rejects(self, error: type[X], match: str | None = None) -> X:
        """Assert ``decide`` rejects the command with ``error`` (and ``match`` in its message)."""
        try:
            actual = self.given.decider.decide(self.command, self.given.state)
        except error as e:
            if match is not None and not re.search(match, str(e)):
                raise AssertionError(
                    self._story() + f"\n  expected {error.__qualname__} matching {match!r}"
                    f"\n  actual message: {str(e)!r}"
                ) from e
            return e
        except DomainError as e:
            raise AssertionError(
                self._story() + f"\n  expected rejection: {error.__qualname__}"
                f"\n  actual rejection:   {type(e).__qualname__}: {e}"
            ) from e
        raise AssertionError(
            self._story() + f"\n  expected rejection: {error.__qualname__}"
            f"\n  actual: accepted, deciding {_listed(actual)}"
        )

    def then_state(self, expected: S) -> When[S, C, E]:
        """Assert the state after the given events and the decided ones equals ``expected``."""
        decided = self._decide(f"state {expected!r}")
        actual = self.given.decider.fold(decided, self.given.state)
        if actual != expected:
            raise AssertionError(
                self._story() + f"\n  expected state: {expected!r}\n  actual state:   {actual!r}"
            )
        return self

    def _decide(self, wanted: str) -> Sequence[E]:
        try:
            return self.given.decider.decide(self.command, self.given.state)
        except DomainError as e:
            raise AssertionError(
                self._story() + f"\n  expected {wanted}"
                f"\n  actual rejection: {type(e).__qualname__}: {e}"
            ) from e

    def _story(self) -> str:
        return f"{self.given.describe()}\n  when {self.command!r}:"


def _listed(events: Sequence[object]) -> str:
    return "[" + ", ".join(repr(e) for e in events) + "]" if events else "[] (no events)"
