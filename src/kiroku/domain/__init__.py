"""Pure domain vocabulary: envelopes, deciders, stream names. No I/O here."""

from kiroku.domain.decider import Decider
from kiroku.domain.envelope import JSON, Metadata, NewEvent, Recorded, StoredEvent, utc_now
from kiroku.domain.streams import category_of, id_of, stream_name, validate_stream

__all__ = [
    "JSON",
    "Decider",
    "Metadata",
    "NewEvent",
    "Recorded",
    "StoredEvent",
    "category_of",
    "id_of",
    "stream_name",
    "utc_now",
    "validate_stream",
]
