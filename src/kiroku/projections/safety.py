"""Whether a projection may be replayed in place, decided before anything runs.

Replay delivers events P.. again over the read model as it stands, so it is
correct only for idempotent handlers; a counter would count twice and a plain
INSERT would fail on every event. A projection says which it is
(``Projection.replay_safe``); an undeclared one is not replayed. A rebuild is
always correct: it starts from an empty model in a shadow store, which is what
"rebuild up to P-1, then continue from P" amounts to.
"""

from __future__ import annotations

from kiroku.errors import InputError
from kiroku.projections.projection import Projection

__all__ = ["ReplayRefusedError", "check_replayable", "replay_plan"]


class ReplayRefusedError(InputError):
    """A replay of a projection that has not declared itself replay-safe."""

    def __init__(self, name: str) -> None:
        self.projection = name
        super().__init__(
            f"Replay of {name} refused: it is not declared replay-safe (replay_safe = True "
            "says its handlers are idempotent), so events delivered again would be applied "
            f"twice over its read model. Rebuild it instead (kiroku rebuild {name}, or the "
            "operations page's Rebuild): a fresh model from position 1 beside the serving "
            "one, swapped in when caught up, the same as rebuilding up to the position "
            "and continuing from there"
        )


def check_replayable(projection: Projection) -> None:
    """Raise ``ReplayRefusedError`` unless ``projection`` may be replayed in place."""
    if not projection.replay_safe:
        raise ReplayRefusedError(projection.name)


def replay_plan(projection: Projection, first: int) -> str:
    """What a replay of ``projection`` from ``first`` will do, said before it runs."""
    check_replayable(projection)
    return (
        f"{projection.name} is replay-safe: events from position {first} are delivered "
        "again over its current read model; others are untouched"
    )
