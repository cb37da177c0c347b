"""The runtime's knobs, checked once when the runtime is built."""

from __future__ import annotations

from dataclasses import dataclass

from kiroku.domain.envelope import Metadata
from kiroku.errors import ConfigError

__all__ = ["CommandOptions", "Retention", "Settings"]


@dataclass(frozen=True, slots=True)
class Retention:
    """Delete a stream's events once a snapshot covers them (a business decision).

    ``keep`` events just behind the snapshot survive, for audit or debugging.
    Deleted events are gone from every reader, including projections that are
    rebuilt later: turn this on only for streams whose history has no other use.
    """

    keep: int = 0

    def __post_init__(self) -> None:
        if self.keep < 0:
            raise ConfigError(f"Retention.keep must be >= 0, got {self.keep}")

    def delete_before(self, snapshot_version: int) -> int:
        """The first version to keep after a snapshot at ``snapshot_version``."""
        return max(1, snapshot_version + 1 - self.keep)


@dataclass(frozen=True, slots=True)
class Settings:
    snapshot_every: int | None = 100
    retention: Retention | None = None
    max_live: int = 10_000
    idle_timeout: float | None = 300.0
    mailbox_size: int = 1000
    max_retries: int = 5
    idempotency_window: int = 1000
    max_batch: int = 64

    def __post_init__(self) -> None:
        _at_least("snapshot_every", self.snapshot_every, 1)
        _at_least("max_live", self.max_live, 1)
        _at_least("mailbox_size", self.mailbox_size, 1)
        _at_least("max_retries", self.max_retries, 0)
        _at_least("idempotency_window", self.idempotency_window, 0)
        _at_least("max_batch", self.max_batch, 1)
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise ConfigError(f"idle_timeout must be > 0 seconds or None, got {self.idle_timeout}")
        if self.retention is not None and self.snapshot_every is None:
            raise ConfigError("a retention policy needs snapshots: set snapshot_every")


@dataclass(frozen=True, slots=True)
class CommandOptions:
    """What travels with a command besides the command itself."""

    idempotency_key: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    metadata: Metadata | None = None


def _at_least(name: str, value: int | None, low: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
