"""Every error kiroku raises, in one tree.

    KirokuError
    ├── DomainError                    a command was rejected; users subclass it
    │   └── NotAllowedError            the caller may not do this (HTTP 403)
    ├── AuthenticationError            no credentials, or unknown ones (HTTP 401)
    │   └── UserStoreError             the users file cannot be read (HTTP 503, retried)
    ├── InputError                     the caller passed something unusable
    │   ├── InvalidStreamNameError
    │   ├── EmptyAppendError
    │   ├── PayloadTooLargeError       a request body over the limit (HTTP 413)
    │   ├── IdempotencyKeyReusedError  a key sent again with another command (HTTP 422)
    │   ├── OutsideJournalError        a well-formed position or time the journal lacks (422)
    │   └── RetractionRefusedError     a system or already-retracted event
    ├── ConcurrencyError
    │   ├── WrongExpectedVersionError  another writer got there first
    │   └── DataDirectoryBusyError     another process owns the data directory
    ├── NotFoundError
    │   ├── EventNotFoundError
    │   ├── ProjectionNotFoundError
    │   └── DocumentNotFoundError      a read-model document that is not there
    ├── SchemaError
    │   ├── RegistrationError          bad registrations, found at start-up
    │   ├── UnknownEventTypeError
    │   ├── FutureSchemaVersionError   stored by a newer producer than this code
    │   ├── EncodeError                an event or state that cannot be stored
    │   └── DecodeError
    │       └── UpcastError
    ├── JournalError
    │   ├── JournalClosedError
    │   └── StorageUnavailableError    retryable: disk full, I/O error, database unreachable
    ├── CommandError                   the runtime could not run a command
    │   ├── CausationDepthError        the pinball guard stopped a causation chain
    │   ├── OverloadedError            retryable: the actor's mailbox is full
    │   ├── AggregateCrashedError      decide/evolve raised something unexpected
    │   ├── RetriesExhaustedError      lost every optimistic-concurrency retry
    │   ├── RecoveryError              an aggregate's state cannot be rebuilt
    │   └── RuntimeClosedError         the runtime was closed
    ├── ProjectionError                carries the projection name and position
    │   ├── HandlerError
    │   ├── ParkedEventError
    │   ├── ReadStoreError             the read store is locked, full or damaged
    │   └── WaitTimeoutError           read-your-writes waited too long (a TimeoutError)
    └── ConfigError
        └── EventCycleError            event -> command -> event loops back

Driver exceptions (sqlite3, psycopg, nats) are converted to the most specific of
these at one boundary per backend, with ``raise ... from e`` so the original
stays visible in tracebacks. Messages carry the values involved: an operator
reading a log line should not need a debugger to know which stream, which
version, which projection.
"""

from __future__ import annotations

__all__ = [
    "AggregateCrashedError",
    "AuthenticationError",
    "CausationDepthError",
    "CommandError",
    "ConcurrencyError",
    "ConfigError",
    "DataDirectoryBusyError",
    "DecodeError",
    "DocumentNotFoundError",
    "DomainError",
    "EmptyAppendError",
    "EncodeError",
    "EventCycleError",
    "EventNotFoundError",
    "FutureSchemaVersionError",
    "HandlerError",
    "IdempotencyKeyReusedError",
    "InputError",
    "InvalidStreamNameError",
    "JournalClosedError",
    "JournalError",
    "KirokuError",
    "NotAllowedError",
    "NotFoundError",
    "OutsideJournalError",
    "OverloadedError",
    "ParkedEventError",
    "PayloadTooLargeError",
    "ProjectionError",
    "ProjectionNotFoundError",
    "ReadStoreError",
    "RecoveryError",
    "RegistrationError",
    "RetractionRefusedError",
    "RetriesExhaustedError",
    "RuntimeClosedError",
    "SchemaError",
    "StorageUnavailableError",
    "UnknownEventTypeError",
    "UpcastError",
    "UserStoreError",
    "WaitTimeoutError",
    "WrongExpectedVersionError",
]


class KirokuError(Exception):
    """The root: ``except KirokuError`` catches everything kiroku raises on purpose."""


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


class SchemaError(KirokuError):
    """Event types, versions and their stored forms disagree."""


class RegistrationError(SchemaError):
    """A registration conflicts with another; raised at import or start-up, not at 3 a.m."""


class UnknownEventTypeError(SchemaError):
    def __init__(self, type_name: str, position: int | None = None) -> None:
        self.type_name = type_name
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(
            f"Unknown event type {type_name!r}{where}: no event is registered under it"
        )


class FutureSchemaVersionError(SchemaError):
    """The stored event is newer than the code reading it (a producer deployed first)."""

    def __init__(
        self, type_name: str, stored: int, known: int, position: int | None = None
    ) -> None:
        self.type_name = type_name
        self.stored = stored
        self.known = known
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(
            f"Event {type_name!r}{where} has schema version {stored}, "
            f"newer than the {known} this code knows: deploy the consumer with the new version"
        )


class EncodeError(SchemaError):
    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        super().__init__(f"Cannot encode {what}: {reason}")


class DecodeError(SchemaError):
    def __init__(self, type_name: str, version: int, position: int | None, reason: str) -> None:
        self.type_name = type_name
        self.version = version
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"Cannot decode {type_name!r} v{version}{where}: {reason}")


class UpcastError(DecodeError):
    def __init__(
        self, type_name: str, from_version: int, to_version: int, position: int | None, reason: str
    ) -> None:
        self.from_version = from_version
        self.to_version = to_version
        where = f" at position {position}" if position is not None else ""
        DecodeError.__init__(self, type_name, from_version, position, reason)
        self.args = (
            f"Cannot upcast {type_name!r}{where} from v{from_version} to v{to_version}: {reason}",
        )


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


class ConfigError(KirokuError):
    """The configuration (flags, environment, TOML) is invalid."""


class RetractionRefusedError(InputError):
    """A retraction that must not be written: the target is a system event or
    already retracted. Nothing was appended."""

    def __init__(self, position: int, reason: str) -> None:
        self.position = position
        self.reason = reason
        super().__init__(f"Cannot retract the event at position {position}: {reason}")


class CausationDepthError(CommandError):
    """The pinball guard: a chain of event -> command -> event grew past the limit."""

    def __init__(self, chain: tuple[str, ...], limit: int) -> None:
        self.chain = chain
        self.limit = limit
        super().__init__(
            f"Causation chain of depth {len(chain)} exceeds the limit of {limit}: "
            + " -> ".join(chain)
        )


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
