"""The retraction: a system event that voids an earlier event without editing it.

Events are facts and are never changed. When one turns out to be invalid (a
producer bug, an operator's mistake), kiroku appends ``EventRetracted`` to the
*original event's stream*, so per-stream order holds: every reader of that
stream meets the original first and its retraction after. The retraction says
which event (position and id), what it was, why, who decided and when, and
whether it came after the compensation window (``late``).

Stored names beginning with ``kiroku.`` are system events: they belong to no
aggregate's decider and cannot themselves be retracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec

from kiroku.domain.envelope import StoredEvent
from kiroku.schema.registry import event

__all__ = [
    "RETRACTED_TYPE",
    "SYSTEM_PREFIX",
    "EventRetracted",
    "is_system_type",
    "parse_retraction",
]

SYSTEM_PREFIX = "kiroku."
RETRACTED_TYPE = "kiroku.EventRetracted"


@event(RETRACTED_TYPE, version=1)
@dataclass(frozen=True, slots=True)
class EventRetracted:
    """The event at ``retracted_position`` is void from now on."""

    retracted_position: int
    retracted_event_id: str
    original_type: str
    reason: str
    retracted_by: str
    retracted_at: datetime
    late: bool = False


_decoder = msgspec.json.Decoder(EventRetracted)


def is_system_type(type_name: str) -> bool:
    """True for kiroku's own events (``kiroku.*``), which no decider evolves."""
    return type_name.startswith(SYSTEM_PREFIX)


def parse_retraction(stored: StoredEvent) -> EventRetracted | None:
    """The retraction ``stored`` carries, or None if it is another kind of event.

    Decoded without a registry so that journal-level code (recovery, rebuild
    filters) can recognise retractions before any application codec exists.
    """
    if stored.type != RETRACTED_TYPE:
        return None
    return _decoder.decode(stored.data)
