"""Events the bus gave up on become parked events of the projection: never skipped unseen."""

from __future__ import annotations

import logging

from kiroku.bus.protocol import DeadLetterHandler
from kiroku.domain.envelope import StoredEvent
from kiroku.projections import checkpoint, ledger
from kiroku.projections.runner import ProjectionRunner

__all__ = ["parker"]

log = logging.getLogger("kiroku.roles")


def parker(runner: ProjectionRunner) -> DeadLetterHandler:
    """A ``BusSource`` dead-letter handler parking into ``runner``'s parked list.

    An event whose stream the read model already has at its version (committed,
    the ack lost) is not parked: it was applied exactly once. Otherwise it is
    parked as failed, its stream held behind it, and an operator retries or
    skips it like any parked event (``kiroku projections parked``).
    """

    async def park(event: StoredEvent, deliveries: int) -> None:
        async with runner.lock:
            conn = runner.store.conn
            if checkpoint.stream_version(conn, event.stream) >= event.version:
                return
            reason = (
                f"the bus delivered it {deliveries} times without an acknowledgement "
                "(MaxDeliver reached: the projector kept stopping before its commit)"
            )
            async with runner.store.transaction(event.position):
                ident = ledger.park(
                    conn, position=event.position, stream=event.stream, version=event.version,
                    event_id=str(event.event_id), type_name=event.type, kind="failed",
                    error=reason, traceback="", attempts=deliveries,
                )  # fmt: skip
            runner.refresh_parked()
        log.error("%s parked position %s (#%s): %s", runner.name, event.position, ident, reason)

    return park
