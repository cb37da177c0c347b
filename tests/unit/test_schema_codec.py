"""Old stored forms are read through upcasters; bad ones fail naming what and where."""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from kiroku.domain.envelope import JSON, StoredEvent
from kiroku.errors import DecodeError, EncodeError, FutureSchemaVersionError, UpcastError
from kiroku.schema import Codec, Registry, Upcaster, event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schema"
sys.path.insert(0, str(FIXTURES))

import shop_events  # noqa: E402 - the fixture app is importable only after the path insert


def stored(type_name: str, version: int, data: bytes, position: int = 1) -> StoredEvent:
    return StoredEvent(
        position=position,
        stream="cart-1",
        version=position,
        type=type_name,
        schema_version=version,
        data=data,
        event_id=uuid.uuid4(),
        occurred_at=datetime(2024, 5, 1, tzinfo=UTC),
        correlation_id=None,
        causation_id=None,
        metadata={},
    )


def fixture(name: str) -> tuple[StoredEvent, JSON]:
    doc = json.loads((FIXTURES / name).read_text())
    data = json.dumps(doc["data"]).encode()
    return stored(doc["type"], doc["schema_version"], data, position=42), doc["current"]


@pytest.fixture
def codec() -> Codec:
    return Codec(shop_events.registry)


@pytest.mark.parametrize(
    "name",
    [
        "item_added_v1.json",  # note removed, gift added, qty renamed, price re-meant
        "item_added_v2.json",  # qty renamed, price re-meant
        "order_created_v1.json",  # type renamed (alias), user renamed to customer
        "cart_closed_v1_without_reason.json",  # a field added with a default, no bump
    ],
)
def test_stored_old_forms_decode_into_the_current_shape(codec: Codec, name: str) -> None:
    old, current = fixture(name)
    recorded = codec.decode(old)
    assert msgspec.to_builtins(recorded.data) == current
    assert recorded.schema_version == old.schema_version  # what was written, for selection
    assert recorded.type == codec.registry.resolve(old.type).name


def test_a_renamed_type_decodes_under_its_current_name(codec: Codec) -> None:
    old, _ = fixture("order_created_v1.json")
    recorded = codec.decode(old)
    assert recorded.type == "shop.OrderPlaced"
    assert recorded.data == shop_events.OrderPlaced(order_id="o-9", customer="aiko")


def test_upcast_json_shows_the_current_shape_before_typing(codec: Codec) -> None:
    old, current = fixture("item_added_v1.json")
    spec = codec.registry.resolve(old.type)
    assert codec.upcast_json(spec, 1, old.data) == current


def test_the_stored_bytes_are_left_as_they_were(codec: Codec) -> None:
    old, _ = fixture("item_added_v1.json")
    before = bytes(old.data)
    codec.decode(old)
    codec.decode(old)
    assert old.data == before


def test_current_events_round_trip(codec: Codec) -> None:
    item = shop_events.ItemAdded("c-1", "tea", 2, 350, gift=True)
    new = codec.encode(item)
    assert (new.type, new.schema_version) == ("shop.ItemAdded", 3)
    assert codec.decode(stored(new.type, new.schema_version, new.data)).data == item


def test_a_future_version_is_refused_not_guessed(codec: Codec) -> None:
    future, _ = fixture("item_added_v4_future.json")
    with pytest.raises(FutureSchemaVersionError) as caught:
        codec.decode(future)
    assert (caught.value.stored, caught.value.known, caught.value.position) == (4, 3, 42)
    assert "'shop.ItemAdded' at position 42 has schema version 4, newer than the 3" in str(
        caught.value
    )


def test_an_upcaster_that_raises_names_position_type_and_step(codec: Codec) -> None:
    data = b'{"cart_id":"c","sku":"s","qty":1,"unit_price":7.5,"note":""}'
    with pytest.raises(UpcastError) as caught:
        codec.decode(stored("shop.ItemAdded", 1, data, position=9))
    error = caught.value
    assert (error.type_name, error.from_version, error.to_version, error.position) == (
        "shop.ItemAdded",
        2,
        3,
        9,
    )
    assert "'shop.ItemAdded' at position 9 from v2 to v3" in str(error)
    assert "item_added_v2_to_v3 raised TypeError: unit_price must be a whole number" in str(error)
    assert isinstance(error.__cause__, TypeError)


def test_an_upcaster_missing_a_key_names_the_key(codec: Codec) -> None:
    with pytest.raises(UpcastError, match=r"from v1 to v2: order_placed_v1_to_v2 raised KeyError"):
        codec.decode(stored("orders.OrderCreated", 1, b'{"order_id":"o"}', position=3))


def _broken_registry(step: Upcaster) -> Registry:
    registry = Registry()

    @event("t.Thing", 2, registry=registry)
    @dataclass(frozen=True, slots=True)
    class Thing:
        count: int

    registry.add_upcaster(step)
    return registry


def test_an_upcast_shape_the_type_cannot_decode_is_an_upcast_error() -> None:
    codec = Codec(_broken_registry(Upcaster("t.Thing", 1, lambda d: {"count": str(d["n"])})))
    with pytest.raises(UpcastError) as caught:
        codec.decode(stored("t.Thing", 1, b'{"n": 5}', position=11))
    message = str(caught.value)
    assert "'t.Thing' at position 11 from v1 to v2" in message
    assert "does not decode into" in message
    assert "Expected `int`, got `str` - at `$.count`" in message


def test_an_upcaster_returning_a_non_object_is_an_upcast_error() -> None:
    step = Upcaster("t.Thing", 1, lambda d: [d])  # type: ignore[arg-type,return-value]  # wrong on purpose
    codec = Codec(_broken_registry(step))
    with pytest.raises(UpcastError, match=r"returned list, not a JSON object"):
        codec.decode(stored("t.Thing", 1, b'{"count": 5}'))


def test_an_upcaster_returning_values_json_cannot_hold_is_an_upcast_error() -> None:
    step = Upcaster("t.Thing", 1, lambda d: {"count": object()})  # type: ignore[dict-item]  # not JSON, on purpose
    codec = Codec(_broken_registry(step))
    with pytest.raises(UpcastError, match=r"from v1 to v2: the upcast shape does not decode"):
        codec.decode(stored("t.Thing", 1, b'{"count": 5}'))


def test_an_event_that_cannot_be_stored_is_an_encode_error(codec: Codec) -> None:
    item = shop_events.ItemAdded("c", "s", 1, 2**70)
    assert codec.decode(stored("shop.ItemAdded", 3, codec.encode(item).data)).data == item
    with pytest.raises(EncodeError, match=r"Cannot encode ItemAdded"):
        codec.encode(shop_events.ItemAdded("c", "s", 1, object()))  # type: ignore[arg-type]  # unstorable on purpose
    with pytest.raises(EncodeError, match=r"not a registered event type"):
        codec.encode(object())


def test_new_event_builds_what_encode_builds(codec: Codec) -> None:
    item = shop_events.ItemAdded("c", "s", 1, 250)
    ident, when = uuid.uuid4(), datetime(2024, 5, 1, tzinfo=UTC)
    meta: dict[str, JSON] = {"k": "v"}
    fast = codec.new_event(item, ident, when, "corr", None, meta)
    for _ in range(2):  # the second call takes the cached name and version
        again = codec.new_event(item, ident, when, "corr", None, meta)
        assert again == fast
    slow = codec.encode(
        item, event_id=ident, occurred_at=when, correlation_id="corr", metadata=meta
    )
    assert fast == slow
    bad = shop_events.ItemAdded("c", "s", 1, object())  # type: ignore[arg-type]  # unstorable on purpose
    with pytest.raises(EncodeError, match=r"Cannot encode ItemAdded"):
        codec.new_event(bad, ident, when, None, None, {})
    with pytest.raises(EncodeError, match=r"not a registered event type"):
        codec.new_event(object(), ident, when, None, None, {})


def test_stored_data_that_is_not_json_is_a_decode_error(codec: Codec) -> None:
    with pytest.raises(DecodeError, match=r"'shop.ItemAdded' v1 at position 5"):
        codec.decode(stored("shop.ItemAdded", 1, b"{not json", position=5))
    with pytest.raises(DecodeError, match=r"stored data is not an object"):
        codec.decode(stored("shop.ItemAdded", 1, b"[1, 2]", position=5))


@pytest.mark.parametrize("warm", [False, True], ids=["first-read", "after-a-good-one"])
def test_a_current_event_of_the_wrong_shape_is_a_decode_error(codec: Codec, warm: bool) -> None:
    if warm:
        codec.decode(stored("shop.CartClosed", 1, b'{"cart_id": "c"}'))
    with pytest.raises(DecodeError, match=r"'shop.CartClosed' v1 at position 8.*cart_id"):
        codec.decode(stored("shop.CartClosed", 1, b"{}", position=8))


def test_a_version_older_than_first_version_is_an_upcast_error() -> None:
    registry = Registry()

    @event("t.Late", 2, first_version=2, registry=registry)
    @dataclass(frozen=True, slots=True)
    class Late:
        x: int

    with pytest.raises(UpcastError, match=r"v1 is older than the first readable version v2"):
        Codec(registry).decode(stored("t.Late", 1, b'{"x": 1}'))
