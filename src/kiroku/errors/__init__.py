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

from kiroku.errors.base import (
    KirokuError,
)
from kiroku.errors.machinery import (
    AggregateCrashedError,
    CausationDepthError,
    CommandError,
    HandlerError,
    JournalClosedError,
    JournalError,
    OverloadedError,
    ParkedEventError,
    ProjectionError,
    ReadStoreError,
    RecoveryError,
    RetriesExhaustedError,
    RuntimeClosedError,
    StorageUnavailableError,
    WaitTimeoutError,
)
from kiroku.errors.refusals import (
    AuthenticationError,
    ConcurrencyError,
    ConfigError,
    DataDirectoryBusyError,
    DocumentNotFoundError,
    DomainError,
    EmptyAppendError,
    EventCycleError,
    EventNotFoundError,
    IdempotencyKeyReusedError,
    InputError,
    InvalidStreamNameError,
    NotAllowedError,
    NotFoundError,
    OutsideJournalError,
    PayloadTooLargeError,
    ProjectionNotFoundError,
    RetractionRefusedError,
    UserStoreError,
    WrongExpectedVersionError,
)
from kiroku.errors.schema import (
    DecodeError,
    EncodeError,
    FutureSchemaVersionError,
    RegistrationError,
    SchemaError,
    UnknownEventTypeError,
    UpcastError,
)

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
