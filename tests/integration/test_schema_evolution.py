"""Done when: events written by an old release (v1, v2, under an old type name) are
read by an application that knows v3 — aggregates, projections and ``kiroku schema
check`` all see v3 shapes — and a snapshot of an old state shape is not trusted.

The old release is simulated by writing its stored JSON directly into a real
SQLite journal, exactly as that release wrote it; nothing is rewritten after.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from kits.hosts import caught_up

from kiroku import Codec, Decider, Recorded, Runtime, Snapshot
from kiroku.domain.envelope import NewEvent
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections import FailurePolicy, Projection, Tx, handles

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schema"
sys.path.insert(0, str(FIXTURES))

import shop_events  # noqa: E402 - the fixture app is importable only after the path insert
from shop_events import CartClosed, ItemAdded, OrderPlaced  # noqa: E402 - as above

CODEC = Codec(shop_events.registry)


@dataclass(frozen=True, slots=True)
class CartState:
    """state_version 2: quantities per sku and a total in cents (v1 kept a list of skus)."""

    items: dict[str, int]
    total_cents: int = 0
    gifts: int = 0
    closed: bool = False


@dataclass(frozen=True, slots=True)
class AddItem:
    sku: str
    quantity: int
    unit_price_cents: int


class Cart(Decider[CartState, AddItem, ItemAdded | CartClosed]):
    category = "cart"
    initial = CartState(items={})
    state_version = 2

    def decide(self, command: AddItem, state: CartState) -> Sequence[ItemAdded | CartClosed]:
        return [ItemAdded("1", command.sku, command.quantity, command.unit_price_cents)]

    def evolve(self, state: CartState, event: ItemAdded | CartClosed) -> CartState:
        if isinstance(event, CartClosed):
            return replace(state, closed=True)
        items = {**state.items, event.sku: state.items.get(event.sku, 0) + event.quantity}
        return replace(
            state,
            items=items,
            total_cents=state.total_cents + event.quantity * event.unit_price_cents,
            gifts=state.gifts + event.gift,
        )


class ShopTotals(Projection):
    name = "shop.totals"

    @handles(ItemAdded)
    async def added(self, tx: Tx, e: Recorded[ItemAdded]) -> None:
        carts = tx.collection("carts")
        doc = await carts.get(e.stream) or {"total_cents": 0, "stored_versions": []}
        total, versions = doc["total_cents"], doc["stored_versions"]
        assert isinstance(total, int)
        assert isinstance(versions, list)
        await carts.put(
            e.stream,
            {
                "total_cents": total + e.data.quantity * e.data.unit_price_cents,
                "stored_versions": [*versions, e.schema_version],
            },
        )

    @handles(OrderPlaced)
    async def placed(self, tx: Tx, e: Recorded[OrderPlaced]) -> None:
        await tx.collection("orders").put(e.data.order_id, {"customer": e.data.customer})


def old(type_name: str, version: int, data: dict[str, object]) -> NewEvent:
    return NewEvent(type=type_name, schema_version=version, data=json.dumps(data).encode())


OLD_RELEASE = {
    "cart-1": [
        old(
            "shop.ItemAdded",
            1,
            {"cart_id": "1", "sku": "tea", "qty": 2, "unit_price": 7, "note": "x"},
        ),
        old(
            "shop.ItemAdded",
            1,
            {"cart_id": "1", "sku": "mug", "qty": 1, "unit_price": 12, "note": ""},
        ),
        old(
            "shop.ItemAdded",
            2,
            {"cart_id": "1", "sku": "tea", "qty": 1, "unit_price": 7, "gift": True},
        ),
    ],
    "order-9": [old("orders.OrderCreated", 1, {"order_id": "9", "user": "aiko"})],
}

# What the old release's snapshot said, in its state_version 1. Its values are
# wrong on purpose: if recovery trusted it, the state would show them.
OLD_SNAPSHOT = Snapshot(
    stream="cart-1",
    version=2,
    state_type="CartState",
    state_version=1,
    data=json.dumps(
        {"items": {"bogus": 99}, "total_cents": 1, "gifts": 0, "closed": False}
    ).encode(),
    taken_at=datetime(2024, 1, 1, tzinfo=UTC),
    metadata={},
)


async def write_old_release(data_dir: Path) -> None:
    await asyncio.to_thread(data_dir.mkdir)
    async with await SQLiteJournal.open(data_dir / "journal.db") as journal:
        for stream, events in OLD_RELEASE.items():
            await journal.append(stream, 0, events)
        await journal.save_snapshot(OLD_SNAPSHOT)


async def test_an_application_that_knows_v3_reads_an_old_release_journal(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await write_old_release(data_dir)
    async with await SQLiteJournal.open(data_dir / "journal.db") as journal:
        # Aggregates: the state is folded from upcast events, the old snapshot ignored.
        async with Runtime(journal, [Cart()], codec=CODEC, snapshot_every=1) as runtime:
            state = await runtime.state(Cart, "1")
            assert state == CartState(items={"tea": 3, "mug": 1}, total_cents=3300, gifts=1)
            await runtime.execute(Cart, "1", AddItem("pot", 1, 3900))
            assert (await runtime.state(Cart, "1")).total_cents == 7200
        snapshot = await journal.load_snapshot("cart-1")
        assert snapshot is not None
        assert (snapshot.version, snapshot.state_version) == (4, 2)

        # Projections: handlers receive v3 shapes; schema_version tells what was stored.
        async with caught_up(journal, ShopTotals(), data=data_dir, codec=CODEC) as host:
            view = host.reader("shop.totals")
            assert await view.collection("carts").get("cart-1") == {
                "total_cents": 7200,
                "stored_versions": [1, 1, 2, 3],
            }
            assert await view.collection("orders").get("9") == {"customer": "aiko"}

        # The old bytes are still exactly what the old release wrote.
        first = await journal.get_event(1)
        assert (first.type, first.schema_version) == ("shop.ItemAdded", 1)
        assert first.data == OLD_RELEASE["cart-1"][0].data

    # The check command: every stored version upcasts and decodes into v3.
    result = await asyncio.to_thread(check, data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["ok"], report["events"]) == (True, 5)
    assert {(r["type"], r["schema_version"], r["current_version"]) for r in report["types"]} == {
        ("orders.OrderCreated", 1, 2),
        ("shop.ItemAdded", 1, 3),
        ("shop.ItemAdded", 2, 3),
        ("shop.ItemAdded", 3, 3),
    }


def check(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from kiroku.cli import main; main()",
            "--data",
            str(data_dir),
            "schema",
            "check",
            "--app",
            "shop_events:app",
            "--json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(FIXTURES)},
        timeout=60,
        check=False,
    )


async def test_unreadable_events_are_parked_with_their_reason_not_guessed(tmp_path: Path) -> None:
    """A newer producer's v4, and a v1 its upcaster cannot convert: both parked, named."""
    data_dir = tmp_path / "data"
    await write_old_release(data_dir)
    newer = {"cart_id": "2", "sku": "kettle", "quantity": 1, "unit_price_cents": 3900}
    odd = {"cart_id": "3", "sku": "tea", "qty": 1, "unit_price": 7.5, "note": ""}
    async with await SQLiteJournal.open(data_dir / "journal.db") as journal:
        await journal.append("cart-2", 0, [old("shop.ItemAdded", 4, {**newer, "currency": "EUR"})])
        await journal.append("cart-3", 0, [old("shop.ItemAdded", 1, odd)])
        policy = FailurePolicy(attempts=1, on_exhausted="continue")
        async with caught_up(
            journal, ShopTotals(), data=data_dir, codec=CODEC, default_policy=policy
        ) as host:
            parked = {p.stream: p for p in host.parked("shop.totals")}
            carts = host.reader("shop.totals").collection("carts")
            assert await carts.get("cart-1") is not None  # the rest went on
            assert await carts.get("cart-2") is None
    assert sorted(parked) == ["cart-2", "cart-3"]
    assert (parked["cart-2"].position, parked["cart-2"].kind) == (5, "failed")
    assert "schema version 4, newer than the 3 this code knows" in parked["cart-2"].error
    assert "Cannot upcast 'shop.ItemAdded' at position 6 from v2 to v3" in parked["cart-3"].error
