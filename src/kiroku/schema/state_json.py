"""A state's JSON for a snapshot, in pieces the event loop can run between.

Snapshots are encoded on a worker thread so the actor goes on meanwhile, but a
thread only lets go of the GIL between Python steps: msgspec encoding a state
that holds tens of megabytes of ``bytes`` (a big chat room's packed log) is
one C call of ~100 ms, and for all that time the loop, and every command on
it, waits. Here a dataclass or plain Struct's big ``bytes`` fields are turned
into base64 a slice at a time (each slice one short C call), the rest by
msgspec; the result is byte for byte what ``msgspec.json.encode`` writes.
"""

from __future__ import annotations

import binascii
import dataclasses
from typing import Any

import msgspec

__all__ = ["LARGE", "encode_state"]

LARGE = 1 << 20
"""A bytes field at least this long is encoded in slices."""

_SLICE = 3 << 18  # 768 KiB of input per base64 call: a multiple of 3, so slices join
_encoder = msgspec.json.Encoder()
_fields: dict[type, list[tuple[str, bytes]] | None] = {}


def encode_state(state: object) -> bytes:
    """``msgspec.json.encode(state)``, without one long GIL-holding call."""
    fields = _fields_of(type(state))
    if fields is None or not any(_large(getattr(state, name)) for name, _ in fields):
        return _encoder.encode(state)
    pieces: list[bytes] = []
    for name, key in fields:
        pieces.append(key)
        value = getattr(state, name)
        if _large(value):
            view = memoryview(value)
            pieces.append(b'"')
            pieces += [
                binascii.b2a_base64(view[at : at + _SLICE], newline=False)
                for at in range(0, len(view), _SLICE)
            ]
            pieces.append(b'"')
        else:
            pieces.append(_encoder.encode(value))
    pieces.append(b"}")
    return b"".join(pieces)


def _large(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) >= LARGE


def _fields_of(cls: type) -> list[tuple[str, bytes]] | None:
    """(attribute, the JSON text before its value) per field, when every field is
    always written by name in order; None for other shapes (msgspec writes them)."""
    if cls in _fields:
        return _fields[cls]
    names: list[tuple[str, str]] | None = None
    if dataclasses.is_dataclass(cls):
        names = [(f.name, f.name) for f in dataclasses.fields(cls)]
    elif isinstance(cls, type) and issubclass(cls, msgspec.Struct):
        config: Any = cls.__struct_config__
        if not (config.omit_defaults or config.array_like or config.tag_field):
            names = [(f.name, f.encode_name) for f in msgspec.structs.fields(cls)]
    found = None
    if names:
        found = [
            (name, (b"{" if i == 0 else b",") + _encoder.encode(key) + b":")
            for i, (name, key) in enumerate(names)
        ]
    _fields[cls] = found
    return found
