"""An event on the wire: msgpack of the stored envelope (data stays the journal's JSON bytes).

Decoded through a struct made from ``StoredEvent``'s own fields, with metadata
as ``dict[str, Any]``: msgspec cannot build a decoder for the recursive ``JSON``
alias the envelope declares. Made, not written out, so a field added to the
envelope travels without a second edit here.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kiroku.domain.envelope import StoredEvent

__all__ = ["decode_event", "encode_event"]

_Wire = msgspec.defstruct(
    "_Wire",
    [
        (f.name, dict[str, Any] if f.name == "metadata" else f.type)
        for f in msgspec.structs.fields(StoredEvent)
    ],
    frozen=True,
    gc=False,
)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Wire)


def encode_event(event: StoredEvent) -> bytes:
    return _encoder.encode(event)


def decode_event(payload: bytes) -> StoredEvent:
    return StoredEvent(*msgspec.structs.astuple(_decoder.decode(payload)))
