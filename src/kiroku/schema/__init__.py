"""Event types, their stored names and versions, upcasters, and the JSON codec."""

from kiroku.schema.check import CheckFailure, CheckReport, CheckRow, EventReader, check_journal
from kiroku.schema.codec import Codec, decode_json, encode_json
from kiroku.schema.registry import (
    DEFAULT_REGISTRY,
    EventType,
    Registry,
    Upcaster,
    UpcastFn,
    event,
    upcaster,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "CheckFailure",
    "CheckReport",
    "CheckRow",
    "Codec",
    "EventReader",
    "EventType",
    "Registry",
    "UpcastFn",
    "Upcaster",
    "check_journal",
    "decode_json",
    "encode_json",
    "event",
    "upcaster",
]
