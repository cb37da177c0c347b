"""The pinball guard: stop a chain of event -> command -> event that runs too deep.

The catalog prevents the cycles it can see; this catches the rest at run time
(an allowed loop that fails to terminate, a flow through code the catalog does
not know). Each command a process manager sends carries, in its events'
metadata, the depth of the chain so far: one more than the depth of the event
that caused it. A command that would exceed ``max_depth`` is not sent; the
chain is recorded in ``stopped`` (operators read it) and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kiroku.domain.envelope import JSON, Metadata, Recorded
from kiroku.errors import CausationDepthError, ConfigError

__all__ = ["DEPTH_KEY", "ORIGIN_KEY", "PinballGuard", "StoppedChain", "depth_of"]

DEPTH_KEY = "kiroku.causation_depth"
ORIGIN_KEY = "kiroku.causation_chain"
_CHAIN_KEEP = 16  # the chain kept in metadata is bounded; the depth is exact
log = logging.getLogger("kiroku.catalog.pinball")


def depth_of(metadata: Metadata) -> int:
    """The causation depth recorded on an event (0 for one caused by no event)."""
    value = metadata.get(DEPTH_KEY, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _chain_of(metadata: Metadata) -> list[str]:
    value = metadata.get(ORIGIN_KEY, [])
    return [str(v) for v in value] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class StoppedChain:
    """A chain the guard refused to extend: which event, through whom, how deep."""

    consumer: str
    position: int
    event_type: str
    depth: int
    chain: tuple[str, ...]
    at: datetime


@dataclass
class PinballGuard:
    max_depth: int = 10
    stopped: list[StoppedChain] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_depth < 1:
            raise ConfigError(f"max causation depth must be at least 1, got {self.max_depth}")

    def metadata_for(self, cause: Recorded[object], consumer: str) -> dict[str, JSON]:
        """Metadata for a command caused by ``cause``; CausationDepthError past the limit."""
        depth = depth_of(cause.metadata) + 1
        link = f"{cause.type}@{cause.position}"
        chain = [*_chain_of(cause.metadata), link][-_CHAIN_KEEP:]
        if depth > self.max_depth:
            stop = StoppedChain(
                consumer, cause.position, cause.type, depth, tuple(chain), datetime.now(UTC)
            )
            self.stopped.append(stop)
            log.warning(
                "pinball guard stopped %s at position %d: depth %d > %d (%s)",
                consumer,
                cause.position,
                depth,
                self.max_depth,
                " -> ".join(chain),
            )
            raise CausationDepthError(tuple(chain), self.max_depth)
        return {DEPTH_KEY: depth, ORIGIN_KEY: list[JSON](chain)}
