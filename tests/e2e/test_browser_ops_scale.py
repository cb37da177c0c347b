"""The operations page at journal scale, in headless Chromium against ``kiroku serve``:
parked events grouped by error and paged, bulk actions with one reason; the event
browser newest first with jumps, filters and retraction marks; a Replay box that
keeps what is typed and validates it; and a page that fits a phone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from browser import ARTIFACTS, Tab, open_tab, screenshot
from chat_server import ChatServer
from playwright.sync_api import Browser, expect

from kiroku import NewEvent
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal

pytestmark = pytest.mark.browser

POISONED = 70  # chat.search parks them all (more than a page); the others stop at the first


def _append_poison(server: ChatServer, count: int) -> int:
    async def append() -> int:
        journal = await SQLiteJournal.open(server.data_dir / "journal.db")
        try:

            def bad() -> NewEvent:
                return NewEvent("chat.MessagePosted", 1, b'{"room_id": "poison", "body": 42}')

            first = (await journal.append("room-poison-0", ANY, [bad()])).first_position
            for i in range(1, count):  # own streams: none is held behind another
                await journal.append(f"room-poison-{i}", ANY, [bad()])
            return first
        finally:
            await journal.close()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(append())).result()


@pytest.fixture(scope="module")
def setup(server: ChatServer) -> dict[str, object]:
    ann = server.add_user("ann", admin=True)
    auth = {"Authorization": f"Bearer {ann}"}
    with httpx.Client(base_url=server.base_url, headers=auth) as http:
        room = http.post("/api/rooms", json={"name": "Audit"}).raise_for_status().json()
        for body in ("one", "two", "three"):
            http.post(f"/api/rooms/{room['room_id']}/messages", json={"body": body})
        first = _append_poison(server, POISONED)
        for _ in range(100):
            groups = http.get("/api/admin/parked/groups").json()["groups"]
            if sum(g["count"] for g in groups) >= POISONED + 3:
                break
            time.sleep(0.2)
        http.post("/api/admin/events/3/retract", json={"reason": "typo"}).raise_for_status()
    return {"ann": ann, "first_poison": first, "head": first + POISONED}


@pytest.fixture
def tab(chromium: Browser, server: ChatServer) -> Iterator[Tab]:
    opened = open_tab(chromium, server.base_url, width=1440, height=900)
    opened.page.on("dialog", lambda d: d.accept("poison from a test producer"))
    try:
        yield opened
        opened.assert_no_script_errors()
    finally:
        opened.close()


def _ops(tab: Tab, setup: dict[str, object]) -> None:
    tab.sign_in(str(setup["ann"]), "ann")
    tab.page.goto(tab.base_url + "/#/ops")
    expect(tab.page.get_by_role("heading", name="Operations")).to_be_visible()


def test_parked_events_are_grouped_paged_and_resolved_in_bulk(
    tab: Tab, setup: dict[str, object]
) -> None:
    _ops(tab, setup)
    page = tab.page
    groups = page.locator(".parked-group")
    expect(groups).to_have_count(4, timeout=15_000)
    search = groups.filter(has_text="chat.search")
    expect(search).to_contain_text(f"{POISONED} chat.search")
    expect(search).to_contain_text("at position N")  # one group, whatever the position
    rows = page.locator("#parked-table tbody tr")
    expect(rows).to_have_count(50)  # one page, not all 73
    tools = page.locator("#parked-tools")
    tools.get_by_role("button", name="Next").click()
    expect(rows).to_have_count(POISONED + 3 - 50)
    tools.get_by_role("button", name="Previous").click()
    expect(rows).to_have_count(50)

    search.get_by_role("button", name="chat.search").click()  # only this group
    expect(rows.filter(has_text="chat.search")).to_have_count(50)
    expect(rows.filter(has_text="chat.rooms")).to_have_count(0)
    rows.nth(0).get_by_role("checkbox").check()
    rows.nth(1).get_by_role("checkbox").check()
    tools.get_by_role("button", name="Skip 2 selected").click()
    expect(search).to_contain_text(f"{POISONED - 2} chat.search")
    screenshot(page, "ops-parked-groups-1440")

    search.get_by_role("button", name="Skip all").click()
    expect(groups.filter(has_text="chat.search")).to_have_count(0)
    expect(groups).to_have_count(3)
    page.locator("#parked-resolved").check()
    skipped = rows.filter(has_text="chat.search").first
    expect(skipped).to_contain_text("skipped")
    expect(skipped).to_contain_text("poison from a test producer (by ann)")


def test_the_event_browser_opens_at_the_newest_and_jumps_and_filters(
    tab: Tab, setup: dict[str, object]
) -> None:
    _ops(tab, setup)
    page = tab.page
    events = page.locator("#event-table tbody tr")
    head = int(str(setup["head"]))
    expect(events.first).to_have_attribute("data-position", str(head))

    page.get_by_label("Go to").fill("2")
    page.get_by_role("button", name="Show").click()
    expect(events.first).to_have_attribute("data-position", "2")
    expect(page.locator("#event-detail h3")).to_contain_text("Event 2: chat.MessagePosted")

    page.get_by_role("button", name="Newest").click()
    page.get_by_label("Event type", exact=True).fill("chat.RoomCreated")
    page.get_by_role("button", name="Show").click()
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("chat.RoomCreated")

    page.get_by_label("Event type", exact=True).fill("")
    page.get_by_label("Go to").fill("3")
    page.get_by_role("button", name="Show").click()
    retracted = page.locator('#event-table tr[data-position="3"]')
    expect(retracted).to_contain_text("retracted")
    expect(page.locator("#event-detail")).to_contain_text("Retracted")
    expect(page.locator("#event-detail").get_by_role("button", name="Retract")).to_have_count(0)
    screenshot(page, "ops-events-1440")


def test_the_replay_box_keeps_its_value_and_validates_as_typed(
    tab: Tab, setup: dict[str, object]
) -> None:
    _ops(tab, setup)
    page = tab.page
    rooms = page.locator('#projection-table tr[data-projection="chat.rooms"]')
    box = rooms.get_by_label("Replay chat.rooms from position or time")
    expect(box).to_have_value(str(setup["first_poison"]))  # the first parked event
    box.fill("nonsense")
    expect(rooms).to_contain_text("Not a position")
    expect(rooms.get_by_role("button", name="Replay")).to_be_disabled()
    for _ in range(3):  # refreshes do not wipe what is typed
        page.get_by_role("button", name="Refresh").first.click()
        page.wait_for_timeout(300)
    expect(box).to_have_value("nonsense")
    box.fill("999999")
    expect(rooms).to_contain_text("The journal ends at")
    box.fill("1")
    expect(rooms.get_by_role("button", name="Replay")).to_be_enabled()
    screenshot(page, "ops-1440")


def test_the_page_fits_a_phone(
    chromium: Browser, server: ChatServer, setup: dict[str, object]
) -> None:
    tab = open_tab(chromium, server.base_url, width=390, height=844)
    try:
        _ops(tab, setup)
        page = tab.page
        expect(page.locator("#projection-table tr[data-projection]")).to_have_count(4)
        expect(page.locator("#event-table tbody tr").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px screen"
        for row in page.locator("#projection-table tr[data-projection]").all():
            box = row.bounding_box()
            assert box is not None
            assert box["height"] <= 120, f"a projection row is {box['height']} px tall"
        screenshot(page, "ops-390")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ops-390-top.png"), animations="disabled")
        page.evaluate("document.getElementById('parked-title').scrollIntoView()")
        page.screenshot(path=str(ARTIFACTS / "ops-390-parked.png"), animations="disabled")
        page.evaluate("document.getElementById('events-title').scrollIntoView()")
        page.screenshot(path=str(ARTIFACTS / "ops-390-events.png"), animations="disabled")
        tab.assert_no_script_errors()
    finally:
        tab.close()
