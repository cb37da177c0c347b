"""Failures of the machinery itself: the journal's storage, the command runtime, the
projections. Some are retryable; each says so where it is."""

from __future__ import annotations

from kiroku.errors.base import KirokuError

__all__ = [
    "AggregateCrashedError",
    "CausationDepthError",
    "CommandError",
    "HandlerError",
    "JournalClosedError",
    "JournalError",
    "OverloadedError",
    "ParkedEventError",
    "ProjectionError",
    "ReadStoreError",
    "RecoveryError",
    "RetriesExhaustedError",
    "RuntimeClosedError",
    "StorageUnavailableError",
    "WaitTimeoutError",
]


class JournalError(KirokuError):
    """The journal's storage failed; the operation did not take effect."""


class JournalClosedError(JournalError):
    def __init__(self, what: str = "journal") -> None:
        super().__init__(f"The {what} is closed")


class StorageUnavailableError(JournalError):
    """The storage cannot take the write now: disk full, an I/O error, a read-only
    or immutable file, or a journal database that cannot be reached.

    Retryable: the operation did not take effect, all or nothing. An append whose
    connection broke during COMMIT may have committed; retrying it with the same
    event ids is safe, because a second copy is refused as a duplicate.
    """


class CommandError(KirokuError):
    """The runtime could not run a command (as opposed to the command being rejected)."""


class OverloadedError(CommandError):
    """Back-pressure: the actor's mailbox is full. Retry later; nothing was queued."""

    retryable = True

    def __init__(self, stream: str, capacity: int) -> None:
        self.stream = stream
        self.capacity = capacity
        super().__init__(f"Stream {stream} is overloaded: its mailbox of {capacity} is full")


class AggregateCrashedError(CommandError):
    """``decide`` or ``evolve`` raised something other than a DomainError: a bug.

    The actor is restarted from the journal; other actors are untouched.
    """

    def __init__(self, stream: str, cause: BaseException) -> None:
        self.stream = stream
        super().__init__(
            f"Aggregate {stream} crashed ({type(cause).__name__}: {cause}); "
            "it was restarted from the journal and the command was not applied"
        )


class RetriesExhaustedError(CommandError):
    def __init__(self, stream: str, attempts: int) -> None:
        self.stream = stream
        self.attempts = attempts
        super().__init__(
            f"Stream {stream}: gave up after {attempts} attempts lost to concurrent writers"
        )


class RecoveryError(CommandError):
    """The state cannot be rebuilt, e.g. events were deleted behind a snapshot
    that no longer matches the decider's ``state_version`` and has no upcaster."""

    def __init__(self, stream: str, reason: str) -> None:
        self.stream = stream
        self.reason = reason
        super().__init__(f"Cannot recover stream {stream}: {reason}")


class RuntimeClosedError(CommandError):
    def __init__(self, stream: str | None = None) -> None:
        self.stream = stream
        target = f" (command for stream {stream})" if stream else ""
        super().__init__(f"The runtime is closed and accepts no more commands{target}")


class ProjectionError(KirokuError):
    def __init__(self, name: str, position: int | None, message: str) -> None:
        self.name = name
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"Projection {name!r}{where}: {message}")


class HandlerError(ProjectionError):
    """A projection handler raised or misbehaved."""


class ParkedEventError(ProjectionError):
    """A projection stopped on an event it had to park."""


class ReadStoreError(ProjectionError):
    """The read store failed (locked by another writer, disk full, damaged).

    The transaction was rolled back: the checkpoint did not move, nothing was lost.
    """


class WaitTimeoutError(ProjectionError, TimeoutError):
    """``wait_for`` gave up before the projection reached the position."""


class CausationDepthError(CommandError):
    """The pinball guard: a chain of event -> command -> event grew past the limit."""

    def __init__(self, chain: tuple[str, ...], limit: int) -> None:
        self.chain = chain
        self.limit = limit
        super().__init__(
            f"Causation chain of depth {len(chain)} exceeds the limit of {limit}: "
            + " -> ".join(chain)
        )
