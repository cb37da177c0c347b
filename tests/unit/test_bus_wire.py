"""The NATS wire format carries a stored event whole: every field, nested metadata."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from kiroku.bus.nats.wire import decode_event, encode_event
from kiroku.domain.envelope import StoredEvent


def stored(**changes: object) -> StoredEvent:
    event = StoredEvent(
        position=41, stream="room-7", version=3, type="chat.MessagePosted", schema_version=2,
        data=b'{"text":"hi"}', event_id=uuid.uuid4(),
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC),
        correlation_id="corr-1", causation_id=None,
        metadata={"user": "ada", "trace": {"hops": [1, 2.5, None, True]}},
    )  # fmt: skip
    return msgspec.structs.replace(event, **changes)


def test_a_stored_event_round_trips_with_every_field() -> None:
    event = stored()
    assert decode_event(encode_event(event)) == event


def test_empty_metadata_and_no_correlation_round_trip() -> None:
    event = stored(metadata={}, correlation_id=None, causation_id="cause-9")
    assert decode_event(encode_event(event)) == event


def test_a_payload_that_is_not_an_event_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_event(msgspec.msgpack.encode({"position": 1}))
