"""Process managers: consumers that react to events by sending commands.

They are what turns one aggregate's event into another aggregate's command, so
they are the edges of the event graph: the catalog reads ``handles`` and
``sends`` to look for cycles before anything runs, and the runner stamps each
command with the causation depth so the pinball guard can stop a chain at run
time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from kiroku.domain.decider import Decider
from kiroku.domain.envelope import Recorded

__all__ = ["ProcessManager", "Send"]


@dataclass(frozen=True, slots=True)
class Send:
    """One command a process manager wants run: ``command`` on ``decider``'s ``aggregate_id``.

    A process manager sends to deciders of unrelated types, and Decider's type
    parameters are invariant, so the field can only be typed loosely.
    """

    decider: type[Decider[Any, Any, Any]]
    aggregate_id: str
    command: object


class ProcessManager:
    """Subclass with a ``name``, the event classes it ``handles``, the command
    classes it ``sends`` and a ``react`` method.

    ``allow_cycle = True`` declares that a loop through this process manager
    terminates by design (the catalog then accepts it; the pinball guard still
    watches the depth at run time).
    """

    name: ClassVar[str]
    handles: ClassVar[tuple[type, ...]] = ()
    sends: ClassVar[tuple[type, ...]] = ()
    allow_cycle: ClassVar[bool] = False

    async def react(self, event: Recorded[object]) -> Sequence[Send]:
        """The commands ``event`` calls for (often none). Pure decisions, no I/O."""
        raise NotImplementedError(f"{type(self).__qualname__}.react")
