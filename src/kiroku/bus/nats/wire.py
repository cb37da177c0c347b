"""An event on the wire: msgpack of the stored envelope (data stays the journal's JSON bytes).

Decoded through a mirror struct whose metadata is ``dict[str, Any]``: msgspec
cannot build a decoder for the recursive ``JSON`` alias the envelope declares.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from kiroku.domain.envelope import StoredEvent

__all__ = ["decode_event", "encode_event"]


class _Wire(msgspec.Struct, frozen=True, gc=False):
    position: int
    stream: str
    version: int
    type: str
    schema_version: int
    data: bytes
    event_id: uuid.UUID
    occurred_at: datetime
    correlation_id: str | None
    causation_id: str | None
    metadata: dict[str, Any]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Wire)


def encode_event(event: StoredEvent) -> bytes:
    return _encoder.encode(event)


def decode_event(payload: bytes) -> StoredEvent:
    w = _decoder.decode(payload)
    return StoredEvent(
        w.position, w.stream, w.version, w.type, w.schema_version, w.data, w.event_id,
        w.occurred_at, w.correlation_id, w.causation_id, w.metadata,
    )  # fmt: skip
