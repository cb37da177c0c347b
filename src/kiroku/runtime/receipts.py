"""The idempotency window of one aggregate: recent keys and what their commands did.

A retried command with a key seen here is answered from the book instead of
running again. The book is bounded (oldest keys fall out first) and is rebuilt
on recovery from two sources: the snapshot's metadata (receipts only, because
the events behind a snapshot may have been deleted) and the events replayed
after it (full results, because their events and states are at hand).

A key is remembered with a fingerprint of the command it came with, so the
same key with another command is refused instead of being answered with the
first command's result (which would silently drop the second). The fingerprint
travels inside the stored key (``key + SEPARATOR + hex digest``): the key is
already written to every event's metadata and to every snapshot's receipts, so
the fingerprint survives restarts and retention exactly as keys do, and books
written before fingerprints existed still load (their keys match any command).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

import msgspec

from kiroku.domain.envelope import JSON, Metadata
from kiroku.errors import IdempotencyKeyReusedError
from kiroku.runtime.result import CommandResult, Receipt

__all__ = [
    "RECEIPTS_METADATA",
    "SEPARATOR",
    "Entry",
    "ReceiptBook",
    "ensure_same",
    "key_name",
    "stamp",
]

S = TypeVar("S")
E = TypeVar("E")

RECEIPTS_METADATA = "receipts"
"""The snapshot metadata entry holding the book as ``[[key, fv, v, fp, p], ...]``."""


SEPARATOR = "\x1f"
"""Between a key and its command's fingerprint (ASCII unit separator: no header carries it)."""

_DIGEST = 16  # bytes; 32 hex characters


def fingerprint(command: object) -> str | None:
    """A digest of the command's type and fields, or None for a command msgspec cannot
    encode (such a key is then checked by name only, as before fingerprints)."""
    try:
        fields = msgspec.json.encode(command)
    except (TypeError, msgspec.EncodeError):
        return None
    kind = f"{type(command).__module__}.{type(command).__qualname__}".encode()
    return hashlib.blake2b(kind + b"\0" + fields, digest_size=_DIGEST).hexdigest()


def stamp(key: str, command: object) -> str:
    """``key`` as it is stored: with the fingerprint of the command it came with."""
    digest = fingerprint(command)
    return key if digest is None else f"{key}{SEPARATOR}{digest}"


def _split(stored: str) -> tuple[str, str | None]:
    name, sep, digest = stored.rpartition(SEPARATOR)
    if sep and len(digest) == 2 * _DIGEST and all(ch in "0123456789abcdef" for ch in digest):
        return name, digest
    return stored, None


def key_name(stored: str) -> str:
    """The key as the caller gave it, without its fingerprint."""
    return _split(stored)[0]


def ensure_same(seen: str, asked: str) -> None:
    """Raise IdempotencyKeyReusedError if two stored keys share a name but not a command.

    A key without a fingerprint (older books, unencodable commands) matches any.
    """
    name, seen_digest = _split(seen)
    asked_digest = _split(asked)[1]
    if seen_digest is not None and asked_digest is not None and seen_digest != asked_digest:
        raise IdempotencyKeyReusedError(name)


@dataclass(frozen=True, slots=True)
class Entry(Generic[S, E]):
    """A remembered key: always its receipt, and the full result while it is at hand."""

    receipt: Receipt
    result: CommandResult[S, E] | None


class ReceiptBook(Generic[S, E]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Entry[S, E]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry[S, E] | None:
        """The entry for ``key`` (a stamped key); IdempotencyKeyReusedError if that key
        was remembered with another command."""
        entry = self._entries.get(key_name(key))
        if entry is not None:
            ensure_same(entry.receipt.key, key)
        return entry

    def remember(self, receipt: Receipt, result: CommandResult[S, E] | None = None) -> None:
        if self.capacity <= 0:
            return
        name = key_name(receipt.key)
        self._entries[name] = Entry(receipt, result)
        self._entries.move_to_end(name)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def to_json(self) -> list[JSON]:
        return [entry.receipt.to_json() for entry in self._entries.values()]

    def load(self, metadata: Metadata) -> int:
        """Add the receipts a snapshot carried; return how many were usable."""
        rows = metadata.get(RECEIPTS_METADATA)
        if not isinstance(rows, list):
            return 0
        count = 0
        for row in rows:
            receipt = Receipt.from_json(row)
            if receipt is not None:
                self.remember(receipt)
                count += 1
        return count
