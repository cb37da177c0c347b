"""Refusals of what was asked: a rule said no, the caller is unknown, the input is
unusable, the thing is missing, another writer got there first, the configuration
is wrong. Nothing was written; the answer is the caller's to act on."""

from __future__ import annotations

from kiroku.errors.base import KirokuError

__all__ = [
    "AuthenticationError",
    "ConcurrencyError",
    "ConfigError",
    "DataDirectoryBusyError",
    "DocumentNotFoundError",
    "DomainError",
    "EmptyAppendError",
    "EventCycleError",
    "EventNotFoundError",
    "IdempotencyKeyReusedError",
    "InputError",
    "InvalidStreamNameError",
    "NotAllowedError",
    "NotFoundError",
    "OutsideJournalError",
    "PayloadTooLargeError",
    "ProjectionNotFoundError",
    "RetractionRefusedError",
    "UserStoreError",
    "WrongExpectedVersionError",
]


class DomainError(KirokuError):
    """A command was rejected by ``decide``. Subclass it for each business rule.

    A rejection is a normal outcome, not a fault: nothing is appended, the actor
    keeps running, and the HTTP layer answers 422 (or the status a subclass maps to).
    """


class InputError(KirokuError):
    """The caller passed something unusable; nothing was written."""


class InvalidStreamNameError(InputError):
    def __init__(self, stream: str, reason: str) -> None:
        self.stream = stream
        self.reason = reason
        super().__init__(f"Invalid stream name {stream!r}: {reason}")


class EmptyAppendError(InputError):
    def __init__(self, stream: str) -> None:
        self.stream = stream
        super().__init__(f"Nothing to append to stream {stream!r}: the event list is empty")


class IdempotencyKeyReusedError(InputError):
    """An idempotency key came back with a different command. Answering it with the
    first command's result would silently drop the second, so it is refused."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"Idempotency key {key!r} was already used for a different request; "
            "use a new key for a new request"
        )


class OutsideJournalError(InputError):
    """A position or time that is well formed but outside the journal as it is now
    (past its head, before its first event): the request is fine, the state refuses it."""


class ConcurrencyError(KirokuError):
    """Someone else changed the data between our read and our write."""


class DataDirectoryBusyError(ConcurrencyError):
    """Another process (a server, or a command moving projections) owns the data
    directory; nothing was changed."""

    def __init__(self, directory: str, holder: str, hint: str = "") -> None:
        self.directory = directory
        self.holder = holder
        super().__init__(f"{directory} is in use by {holder}" + (f"; {hint}" if hint else ""))


class WrongExpectedVersionError(ConcurrencyError):
    def __init__(self, stream: str, expected: object, actual: int) -> None:
        self.stream = stream
        self.expected = expected
        self.actual = actual
        super().__init__(f"Wrong expected version: {expected} (stream {stream}, version {actual})")


class NotFoundError(KirokuError):
    """The thing asked for does not exist."""


class EventNotFoundError(NotFoundError):
    def __init__(self, ref: object) -> None:
        self.ref = ref
        super().__init__(f"No event at {ref!r}")


class ProjectionNotFoundError(NotFoundError):
    def __init__(self, name: str, known: list[str] | None = None) -> None:
        self.name = name
        hint = f" (known: {', '.join(sorted(known))})" if known else ""
        super().__init__(f"No projection named {name!r}{hint}")


class DocumentNotFoundError(NotFoundError):
    def __init__(self, collection: str, doc_id: str) -> None:
        self.collection = collection
        self.doc_id = doc_id
        super().__init__(f"No document {doc_id!r} in collection {collection!r}")


class ConfigError(KirokuError):
    """The configuration (flags, environment, TOML) is invalid."""


class RetractionRefusedError(InputError):
    """A retraction that must not be written: the target is a system event or
    already retracted. Nothing was appended."""

    def __init__(self, position: int, reason: str) -> None:
        self.position = position
        self.reason = reason
        super().__init__(f"Cannot retract the event at position {position}: {reason}")


class EventCycleError(ConfigError):
    """The event catalog found a loop of event -> command -> event at start-up."""

    def __init__(self, cycle: tuple[str, ...]) -> None:
        self.cycle = cycle
        super().__init__(
            "Event cycle: "
            + " -> ".join(cycle)
            + " (declare it allowed if the loop terminates by design)"
        )


class NotAllowedError(DomainError):
    """A command rejected because of who sent it (not a member, not the owner)."""


class AuthenticationError(KirokuError):
    """The caller could not be identified: no credentials, or ones nobody issued."""


class UserStoreError(AuthenticationError):
    """The users file cannot be parsed: no caller can be identified until it is whole again.

    Retryable (the server re-reads it on every check), so it answers 503, not 401.
    """


class PayloadTooLargeError(InputError):
    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"Request body of {size} bytes exceeds the limit of {limit} bytes")
