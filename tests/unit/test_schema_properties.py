"""Property: for every registered version of a type family, upcast -> encode -> decode
round-trips, and the upcast keeps the meaning the old version had."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from kiroku.domain.envelope import JSON, StoredEvent
from kiroku.errors import RegistrationError
from kiroku.schema import Codec, Registry, Upcaster, event

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures" / "schema"))

import shop_events
from shop_events import ItemAdded, OrderPlaced

codec = Codec(shop_events.registry)

texts = st.text(max_size=20)
quantities = st.integers(min_value=0, max_value=10_000)
units = st.integers(min_value=-(2**40), max_value=2**40)

v1_items = st.fixed_dictionaries(
    {"cart_id": texts, "sku": texts, "qty": quantities, "unit_price": units, "note": texts}
)
v2_items = st.fixed_dictionaries(
    {"cart_id": texts, "sku": texts, "qty": quantities, "unit_price": units, "gift": st.booleans()}
)
v3_items = st.builds(ItemAdded, texts, texts, quantities, units, st.booleans())


def as_stored(type_name: str, version: int, data: dict[str, JSON] | object) -> StoredEvent:
    return StoredEvent(
        position=1,
        stream="cart-1",
        version=1,
        type=type_name,
        schema_version=version,
        data=msgspec.json.encode(data),
        event_id=uuid.uuid4(),
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
        correlation_id=None,
        causation_id=None,
        metadata={},
    )


def assert_round_trips(current: object) -> None:
    new = codec.encode(current)
    again = codec.decode(as_stored(new.type, new.schema_version, msgspec.json.decode(new.data)))
    assert again.data == current
    assert codec.encode(again.data).data == new.data


def meaning_of(old: dict[str, JSON]) -> ItemAdded:
    """What a v1 or v2 item meant, written independently of the upcasters."""
    qty, price, gift = old["qty"], old["unit_price"], old.get("gift", False)
    assert isinstance(qty, int)
    assert isinstance(price, int)
    assert isinstance(gift, bool)
    return ItemAdded(str(old["cart_id"]), str(old["sku"]), qty, price * 100, gift)


@given(v1_items)
def test_v1_items_upcast_keep_their_meaning_and_round_trip(old: dict[str, JSON]) -> None:
    current = codec.decode(as_stored("shop.ItemAdded", 1, old)).data
    assert current == meaning_of(old)
    assert_round_trips(current)


@given(v2_items)
def test_v2_items_upcast_keep_their_meaning_and_round_trip(old: dict[str, JSON]) -> None:
    current = codec.decode(as_stored("shop.ItemAdded", 2, old)).data
    assert current == meaning_of(old)
    assert_round_trips(current)


@given(v3_items)
def test_current_items_round_trip(item: ItemAdded) -> None:
    assert codec.decode(as_stored("shop.ItemAdded", 3, item)).data == item
    assert_round_trips(item)


@given(st.fixed_dictionaries({"order_id": texts, "user": texts}))
def test_orders_stored_under_the_old_name_round_trip(old: dict[str, JSON]) -> None:
    recorded = codec.decode(as_stored("orders.OrderCreated", 1, old))
    assert recorded.data == OrderPlaced(str(old["order_id"]), str(old["user"]))
    assert recorded.type == "shop.OrderPlaced"
    assert_round_trips(recorded.data)


@given(st.sampled_from([1, 2]), st.data())
def test_upcasting_twice_gives_the_same_result(version: int, data: st.DataObject) -> None:
    """Upcasters are pure: reading the same stored event again never differs."""
    old = data.draw(v1_items if version == 1 else v2_items)
    event = as_stored("shop.ItemAdded", version, old)
    assert codec.decode(event).data == codec.decode(event).data


@given(
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=1, max_value=8),
    st.sets(st.integers(min_value=1, max_value=10)),
)
def test_a_chain_validates_exactly_when_it_covers_first_to_current(
    version: int, first: int, steps: set[int]
) -> None:
    """Whatever upcasters are registered, validate() accepts only the complete chain."""
    registry = Registry()
    try:
        event("p.Thing", version, first_version=first, registry=registry)(type("Thing", (), {}))
    except RegistrationError:
        assert first > version
        return
    for v in steps:
        registry.add_upcaster(Upcaster("p.Thing", v, lambda d: d))
    complete = steps == set(range(first, version))
    try:
        registry.validate()
    except RegistrationError:
        assert not complete
    else:
        assert complete
