"""Ids built without uuid.UUID's constructor are ordinary version-7 UUIDs: unique,
carrying their time, and in time order (what keeps index inserts in one place)."""

import pickle
import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from kiroku.domain.ids import id_at, new_event_id, new_id


def _ms(value: uuid.UUID) -> int:
    return value.int >> 80


def test_ids_are_version_7_uuids_like_any_other() -> None:
    made = [new_id() for _ in range(1000)]
    assert len(set(made)) == 1000
    for value in made[:50]:
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        parsed = uuid.UUID(str(value))
        assert parsed == value
        assert hash(parsed) == hash(value)
        assert pickle.loads(pickle.dumps(value)) == value
        assert value.is_safe is uuid.SafeUUID.unknown
    assert new_event_id is new_id


def test_an_id_carries_the_milliseconds_it_was_made_in() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= _ms(value) <= after


def test_ids_made_in_later_time_slots_sort_later_as_uuids_and_as_text() -> None:
    earlier = new_id()
    time.sleep(0.002)  # past the millisecond: the time bits alone decide
    later = new_id()
    assert earlier < later
    assert str(earlier) < str(later)  # the journal stores the text form
    assert earlier.hex < later.hex  # message ids are the hex form


@given(
    st.integers(min_value=0, max_value=(1 << 48) * 1_000_000 - 1),
    st.integers(min_value=0, max_value=(1 << 62) - 1),
)
def test_the_fields_are_laid_out_as_rfc_9562_says(ns: int, bits: int) -> None:
    """Any time in the 48 bits of milliseconds, any random bits: version and variant
    in place, and the time and the randomness read back whole."""
    value = id_at(ns, bits)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert _ms(value) == ns // 1_000_000
    assert (value.int >> 64) & 0xFFF == (ns % 1_000_000) * 4096 // 1_000_000
    assert value.int & ((1 << 62) - 1) == bits
    assert uuid.UUID(str(value)) == value


@given(st.integers(min_value=0, max_value=(1 << 47) * 1_000_000), st.integers(1, 10**9))
def test_a_later_time_never_sorts_earlier(ns: int, later_by: int) -> None:
    """Ids of times at least a fraction step apart sort in time order, random bits aside."""
    first = id_at(ns, (1 << 62) - 1)
    second = id_at(ns + later_by + 245, 0)
    assert first < second
