"""Public helpers for testing code built on kiroku.

``given(decider, *events).when(command).then(*events)`` checks a decider's
business rules without a journal or a runtime, and imports without pytest, as
does ``check_replay_equals_rebuild`` (replay after live equals rebuild).
``JournalContract`` (``kiroku.testing.contracts.journal``) is the suite every
Journal backend subclasses (see docs/journal.md); it needs pytest, and is
imported only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiroku.testing.given import Given, When, given
from kiroku.testing.replay import ReplayMismatchError, check_replay_equals_rebuild

if TYPE_CHECKING:
    from kiroku.testing.contracts.journal import JournalContract, JournalFactory

__all__ = [
    "Given",
    "JournalContract",
    "JournalFactory",
    "ReplayMismatchError",
    "When",
    "check_replay_equals_rebuild",
    "given",
]


def __getattr__(name: str) -> object:
    """The contract suites load on first use: ``given`` must not need pytest."""
    if name in ("JournalContract", "JournalFactory"):
        from kiroku.testing.contracts import journal

        return getattr(journal, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
