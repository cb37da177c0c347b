"""check_journal reads every stored event and reports, per type and version, what fails."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kiroku.domain.envelope import NewEvent, StoredEvent
from kiroku.journal import ANY, MemoryJournal
from kiroku.schema import Codec
from kiroku.schema.check import check_journal

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures" / "schema"))

import shop_events

codec = Codec(shop_events.registry)


def raw(type_name: str, version: int, data: dict[str, object]) -> NewEvent:
    return NewEvent(type=type_name, schema_version=version, data=json.dumps(data).encode())


V1 = {"cart_id": "c", "sku": "s", "qty": 1, "unit_price": 2, "note": ""}
V3 = {"cart_id": "c", "sku": "s", "quantity": 1, "unit_price_cents": 200, "gift": False}


async def test_a_readable_journal_is_ok_and_counted_per_type_and_version() -> None:
    journal = MemoryJournal()
    await journal.append("cart-1", 0, [raw("shop.ItemAdded", 1, V1) for _ in range(3)])
    await journal.append("cart-2", 0, [raw("shop.ItemAdded", 3, V3)])
    await journal.append(
        "order-1", 0, [raw("orders.OrderCreated", 1, {"order_id": "o", "user": "u"})]
    )
    seen: list[int] = []
    report = await check_journal(journal, codec, batch_size=2, progress=seen.append)
    assert report.ok
    assert (report.events, report.failed, report.head) == (5, 0, 5)
    assert [(r.type, r.schema_version, r.current, r.events, r.status) for r in report.rows] == [
        ("orders.OrderCreated", 1, ("shop.OrderPlaced", 2), 1, "upcast"),
        ("shop.ItemAdded", 1, ("shop.ItemAdded", 3), 3, "upcast"),
        ("shop.ItemAdded", 3, ("shop.ItemAdded", 3), 1, "current"),
    ]
    assert seen == [2, 4, 5]


async def test_every_kind_of_unreadable_event_is_listed_with_position_and_reason() -> None:
    journal = MemoryJournal()
    await journal.append("cart-1", 0, [raw("shop.ItemAdded", 1, V1)])
    await journal.append("cart-1", 1, [raw("shop.ItemAdded", 1, {**V1, "unit_price": 2.5})])
    await journal.append("cart-1", 2, [raw("shop.ItemAdded", 4, V3)])
    await journal.append("cart-1", 3, [raw("shop.Vanished", 1, {})])
    await journal.append("cart-1", 4, [raw("shop.CartClosed", 1, {"reason": "x"})])
    report = await check_journal(journal, codec)
    assert not report.ok
    assert (report.events, report.failed) == (5, 4)
    failures = {f.position: (f.error, f.reason) for f in report.failures}
    assert failures[2][0] == "UpcastError"
    assert "from v2 to v3" in failures[2][1]
    assert failures[3][0] == "FutureSchemaVersionError"
    assert failures[4][0] == "UnknownEventTypeError"
    assert failures[5][0] == "DecodeError"
    assert "cart_id" in failures[5][1]
    statuses = {(r.type, r.schema_version): (r.events, r.failed, r.status) for r in report.rows}
    assert statuses == {
        ("shop.CartClosed", 1): (1, 1, "failing"),
        ("shop.ItemAdded", 1): (2, 1, "failing"),
        ("shop.ItemAdded", 4): (1, 1, "future version"),
        ("shop.Vanished", 1): (1, 1, "unknown type"),
    }


async def test_failures_listed_are_capped_but_all_are_counted() -> None:
    journal = MemoryJournal()
    await journal.append("cart-1", 0, [raw("shop.Vanished", 1, {}) for _ in range(7)])
    report = await check_journal(journal, codec, max_failures=3)
    assert (report.failed, report.failures_shown) == (7, 3)
    assert [f.position for f in report.failures] == [1, 2, 3]


class WrittenWhileRead(MemoryJournal):
    """A journal another writer appends to between the check's reads."""

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        await self.append("cart-9", ANY, [raw("shop.Vanished", 1, {})])
        return await super().read_all(after_position, limit)


async def test_events_appended_during_the_check_are_left_for_the_next_one() -> None:
    journal = WrittenWhileRead()
    await journal.append("cart-1", 0, [raw("shop.ItemAdded", 3, V3) for _ in range(2)])
    report = await check_journal(journal, codec, batch_size=1)
    assert (report.head, report.events, report.failed) == (2, 2, 0)
    assert await journal.head_position() > 2


async def test_an_empty_journal_is_ok() -> None:
    report = await check_journal(MemoryJournal(), codec)
    assert report.ok
    assert report.to_json() == {
        "ok": True,
        "events": 0,
        "failed": 0,
        "head": 0,
        "types": [],
        "failures": [],
    }
