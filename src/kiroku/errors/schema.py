"""Event types, versions and stored forms that disagree with the code reading them."""

from __future__ import annotations

from kiroku.errors.base import KirokuError

__all__ = [
    "DecodeError",
    "EncodeError",
    "FutureSchemaVersionError",
    "RegistrationError",
    "SchemaError",
    "UnknownEventTypeError",
    "UpcastError",
]


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
