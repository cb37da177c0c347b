"""The bus's errors, under ``KirokuError`` like every other.

    KirokuError
    ├── BusError                     the message bus failed an operation
    │   └── BusUnavailableError      the bus cannot be reached (at start: exit non-zero)
    └── ConcurrencyError
        └── LeaseLostError           another relay holds the lease: this one must stop

They live beside the bus (not in ``kiroku.errors``) so that the optional NATS
backend's vocabulary stays with it; each subclasses the branch it belongs to.
"""

from __future__ import annotations

from kiroku.errors import ConcurrencyError, KirokuError

__all__ = ["BusError", "BusUnavailableError", "LeaseLostError"]


class BusError(KirokuError):
    pass


class BusUnavailableError(BusError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(f"Message bus at {url} is unavailable: {reason}")


class LeaseLostError(ConcurrencyError):
    def __init__(self, name: str, holder: str, detail: str = "") -> None:
        self.name = name
        self.holder = holder
        tail = f" ({detail})" if detail else ""
        super().__init__(f"Lease {name!r} is no longer held by {holder}{tail}")
