"""Running a process manager: events in, commands out, through the pinball guard.

Each command is sent with the triggering event as its causation, the event's
correlation (or its id) as the correlation, the guard's depth metadata, and an
idempotency key derived from the process manager, the event and the command's
index — so an event delivered twice sends nothing twice (as long as the
runtime still remembers the key). Domain rejections are normal outcomes of a
reaction and are logged, not raised.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from kiroku.catalog.pinball import PinballGuard
from kiroku.catalog.process import ProcessManager, Send
from kiroku.domain.decider import Decider
from kiroku.domain.envelope import Metadata, Recorded
from kiroku.errors import CausationDepthError, DomainError

__all__ = ["CommandSender", "ProcessManagerRunner", "Reaction"]

log = logging.getLogger("kiroku.catalog.process")


class CommandSender(Protocol):
    """What the runtime offers (``Runtime.execute`` fits)."""

    def execute(
        self,
        decider: type[Decider[Any, Any, Any]],
        aggregate_id: str,
        command: object,
        *,
        idempotency_key: str | None = ...,
        correlation_id: str | None = ...,
        causation_id: str | None = ...,
        metadata: Metadata | None = ...,
    ) -> Awaitable[object]: ...


@dataclass(frozen=True, slots=True)
class Reaction:
    """What one event led to: commands sent, rejected, or stopped by the guard."""

    position: int
    sent: int = 0
    rejected: int = 0
    stopped: bool = False


class ProcessManagerRunner:
    def __init__(
        self, manager: ProcessManager, sender: CommandSender, guard: PinballGuard | None = None
    ) -> None:
        self.manager = manager
        self.sender = sender
        self.guard = guard if guard is not None else PinballGuard()
        self._types = tuple(manager.handles)

    async def handle(self, event: Recorded[object]) -> Reaction:
        if self._types and not isinstance(event.data, self._types):
            return Reaction(event.position)
        sends = await self.manager.react(event)
        if not sends:
            return Reaction(event.position)
        try:
            metadata = self.guard.metadata_for(event, self.manager.name)
        except CausationDepthError:
            return Reaction(event.position, stopped=True)
        sent = rejected = 0
        for i, send in enumerate(sends):
            if await self._send(event, send, i, metadata):
                sent += 1
            else:
                rejected += 1
        return Reaction(event.position, sent, rejected)

    async def _send(
        self, event: Recorded[object], send: Send, index: int, metadata: Metadata
    ) -> bool:
        try:
            await self.sender.execute(
                send.decider,
                send.aggregate_id,
                send.command,
                idempotency_key=f"{self.manager.name}:{event.event_id}:{index}",
                correlation_id=event.correlation_id or str(event.event_id),
                causation_id=str(event.event_id),
                metadata=metadata,
            )
        except DomainError as e:
            log.info("%s: %s rejected: %s", self.manager.name, type(send.command).__name__, e)
            return False
        return True
