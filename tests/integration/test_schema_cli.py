"""``kiroku schema`` and ``kiroku schema check`` run as the command, on real SQLite files."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiroku.domain.envelope import NewEvent
from kiroku.journal.sqlite import SQLiteJournal

FIXTURES = Path(__file__).parents[1] / "fixtures" / "schema"
APP = "shop_events:app"

V1 = {"cart_id": "c", "sku": "tea", "qty": 2, "unit_price": 7, "note": "hi"}
V2 = {"cart_id": "c", "sku": "mug", "qty": 1, "unit_price": 12, "gift": True}
V3 = {"cart_id": "c", "sku": "pot", "quantity": 1, "unit_price_cents": 3900, "gift": False}


def kiroku(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(FIXTURES), "COLUMNS": "250"}
    env.pop("KIROKU_APP", None)
    return subprocess.run(
        [sys.executable, "-c", "from kiroku.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def raw(type_name: str, version: int, data: dict[str, object]) -> NewEvent:
    return NewEvent(type=type_name, schema_version=version, data=json.dumps(data).encode())


async def write(data_dir: Path, streams: dict[str, list[NewEvent]]) -> None:
    """Old forms written as raw stored JSON, the way an older release wrote them."""
    await asyncio.to_thread(data_dir.mkdir)
    journal = await SQLiteJournal.open(data_dir / "journal.db")
    try:
        for stream, events in streams.items():
            await journal.append(stream, 0, events)
    finally:
        await journal.close()


@pytest.fixture
async def healthy(tmp_path: Path) -> Path:
    data_dir = tmp_path / "healthy"
    await write(
        data_dir,
        {
            "cart-1": [raw("shop.ItemAdded", 1, V1) for _ in range(3)],
            "cart-2": [raw("shop.ItemAdded", 2, V2), raw("shop.ItemAdded", 3, V3)],
            "cart-3": [raw("shop.CartClosed", 1, {"cart_id": "c"})],
            "order-1": [raw("orders.OrderCreated", 1, {"order_id": "o", "user": "aiko"})],
        },
    )
    return data_dir


@pytest.fixture
async def broken(tmp_path: Path) -> Path:
    data_dir = tmp_path / "broken"
    await write(
        data_dir,
        {
            "cart-1": [
                raw("shop.ItemAdded", 1, V1),
                raw("shop.ItemAdded", 1, {**V1, "unit_price": 7.5}),
                raw("shop.ItemAdded", 4, {**V3, "currency": "EUR"}),
                raw("shop.Vanished", 1, {}),
                raw("[/bold]", 1, {}),  # a stored name that is also terminal markup
            ]
        },
    )
    return data_dir


def test_schema_lists_types_versions_aliases_and_upcasters_as_json() -> None:
    result = kiroku("schema", "--app", APP, "--json")
    assert result.returncode == 0, result.stderr
    types = {t["name"]: t for t in json.loads(result.stdout)}
    assert sorted(types) == ["shop.CartClosed", "shop.ItemAdded", "shop.OrderPlaced"]
    assert types["shop.ItemAdded"]["version"] == 3
    assert types["shop.ItemAdded"]["upcasters"] == [
        {"from": 1, "to": 2, "function": "item_added_v1_to_v2"},
        {"from": 2, "to": 3, "function": "item_added_v2_to_v3"},
    ]
    assert types["shop.OrderPlaced"]["aliases"] == ["orders.OrderCreated"]
    assert types["shop.OrderPlaced"]["class"] == "shop_events.OrderPlaced"


def test_schema_lists_types_as_a_table() -> None:
    result = kiroku("schema", "--app", APP)
    assert result.returncode == 0, result.stderr
    assert "3 event types" in result.stdout
    assert "orders.OrderCreated" in result.stdout
    assert "v2→v3 item_added_v2_to_v3" in result.stdout


def test_check_passes_on_a_journal_of_old_forms(healthy: Path) -> None:
    result = kiroku("--data", str(healthy), "schema", "check", "--app", APP, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["ok"], report["events"], report["failed"], report["head"]) == (True, 7, 0, 7)
    rows = {(r["type"], r["schema_version"]): r for r in report["types"]}
    assert {k: (r["events"], r["status"]) for k, r in rows.items()} == {
        ("orders.OrderCreated", 1): (1, "upcast"),
        ("shop.CartClosed", 1): (1, "current"),
        ("shop.ItemAdded", 1): (3, "upcast"),
        ("shop.ItemAdded", 2): (1, "upcast"),
        ("shop.ItemAdded", 3): (1, "current"),
    }
    assert rows[("orders.OrderCreated", 1)]["current_type"] == "shop.OrderPlaced"


def test_check_fails_and_lists_every_unreadable_event(broken: Path) -> None:
    result = kiroku("--data", str(broken), "schema", "--app", APP, "check", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["ok"], report["events"], report["failed"]) == (False, 5, 4)
    errors = {f["position"]: f["error"] for f in report["failures"]}
    assert errors == {
        2: "UpcastError",
        3: "FutureSchemaVersionError",
        4: "UnknownEventTypeError",
        5: "UnknownEventTypeError",
    }


def test_check_prints_a_table_of_failures(broken: Path) -> None:
    result = kiroku("--data", str(broken), "schema", "check", "--app", APP, "--progress")
    assert result.returncode == 1, result.stderr
    assert "Failures (first 4 of 4)" in result.stdout
    assert "from v2 to v3" in result.stdout
    assert "newer than the 3 this code knows" in result.stdout
    assert "Unknown event type '[/bold]' at position 5" in result.stdout
    assert "Checked 5 events: 4 failed" in result.stdout


def test_check_with_a_progress_bar_reports_the_same(healthy: Path) -> None:
    result = kiroku("--data", str(healthy), "schema", "check", "--app", APP, "--progress")
    assert result.returncode == 0, result.stderr
    assert "Checked 7 events: all readable" in result.stdout


def test_check_without_a_journal_is_an_invocation_error(tmp_path: Path) -> None:
    result = kiroku("--data", str(tmp_path / "none"), "schema", "check", "--app", APP)
    assert result.returncode == 2
    assert "No journal at" in result.stderr
    assert not (tmp_path / "none").exists()


def test_check_refuses_an_app_whose_chain_has_a_gap(healthy: Path) -> None:
    result = kiroku("--data", str(healthy), "schema", "check", "--app", "broken_events:app")
    assert result.returncode == 2
    assert "has a gap: missing v1->v2" in result.stderr


def test_an_unloadable_app_is_an_invocation_error() -> None:
    result = kiroku("schema", "--app", "no_such_module:app")
    assert result.returncode == 2
    assert "no_such_module" in result.stderr
