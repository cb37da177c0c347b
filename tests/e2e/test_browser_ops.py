"""The operations page in headless Chromium against a real ``kiroku serve``:
projection status, a rebuild and a replay run to completion from the buttons, the
event browser opens an event with its consumption ledger, parked events listed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from browser import Tab, checked_tab, screenshot
from chat_server import ChatServer
from playwright.sync_api import Browser, Dialog, expect

pytestmark = pytest.mark.browser

PROJECTIONS = ("chat.history", "chat.rooms", "chat.search", "chat.timeline")


@pytest.fixture(scope="module")
def tokens(server: ChatServer) -> dict[str, str]:
    tokens = {"ann": server.add_user("ann", admin=True), "bob": server.add_user("bob")}
    with httpx.Client(base_url=server.base_url) as http:
        auth = {"Authorization": f"Bearer {tokens['ann']}"}
        room = http.post("/api/rooms", json={"name": "Audit", "members": ["bob"]}, headers=auth)
        room_id = room.raise_for_status().json()["room_id"]
        for body in ("one", "two", "three"):
            posted = http.post(f"/api/rooms/{room_id}/messages", json={"body": body}, headers=auth)
            posted.raise_for_status()
    return tokens


@pytest.fixture
def tab(chromium: Browser, server: ChatServer) -> Iterator[Tab]:
    with checked_tab(chromium, server.base_url) as opened:
        opened.page.on("dialog", Dialog.accept)  # "Rebuild …?": yes
        yield opened


def test_projections_show_state_and_lag_and_rebuild_and_replay_run_to_completion(
    tab: Tab, tokens: dict[str, str]
) -> None:
    tab.sign_in(tokens["ann"], "ann")
    tab.page.get_by_role("link", name="Operations").click()
    page = tab.page
    expect(page.get_by_role("heading", name="Operations")).to_be_visible()
    for name in PROJECTIONS:
        row = page.locator(f'#projection-table tr[data-projection="{name}"]')
        expect(row).to_contain_text("running")
        expect(row).to_contain_text("0 events")  # caught up: no lag

    timeline = page.locator('#projection-table tr[data-projection="chat.timeline"]')
    timeline.get_by_role("button", name="Rebuild").click()
    expect(timeline).to_contain_text("rebuild done", timeout=15_000)
    expect(timeline.get_by_role("button", name="Rebuild")).to_be_enabled()

    rooms = page.locator('#projection-table tr[data-projection="chat.rooms"]')
    rooms.get_by_label("Replay chat.rooms from position or time").fill("2")
    rooms.get_by_role("button", name="Replay").click()
    expect(rooms).to_contain_text("replay done", timeout=15_000)
    screenshot(page, "ops-projections")


def test_the_event_browser_shows_an_events_ledger(tab: Tab, tokens: dict[str, str]) -> None:
    tab.sign_in(tokens["ann"], "ann")
    page = tab.page
    page.goto(tab.base_url + "/#/ops")
    events = page.locator("#event-table tbody tr")
    expect(events.first).to_contain_text("chat.MessagePosted")  # newest first
    expect(events.last).to_contain_text("chat.RoomCreated")

    page.get_by_role("button", name="Open event 2").click()
    detail = page.locator("#event-detail")
    expect(detail.get_by_role("heading", name="Event 2: chat.MessagePosted")).to_be_visible()
    expect(detail.locator("pre")).to_contain_text('"body": "one"')
    ledger = page.locator("#ledger")
    expect(ledger.locator('tr[data-consumer="chat.timeline"]')).to_contain_text("applied")
    expect(ledger.locator('tr[data-consumer="chat.search"]')).to_contain_text("applied")

    stream = page.locator("#event-table tbody tr").last.locator("td").nth(1).inner_text()
    page.get_by_label("Stream").fill(stream)
    page.get_by_role("button", name="Show").click()
    expect(events).to_have_count(4)  # created + three posts, nothing from other streams

    expect(page.locator("#parked")).to_contain_text("Nothing is parked.")
    screenshot(page, "ops-events")


def test_only_admins_get_the_operations_page(tab: Tab, tokens: dict[str, str]) -> None:
    tab.sign_in(tokens["bob"], "bob")
    expect(tab.page.get_by_role("link", name="Operations")).to_be_hidden()
    tab.page.goto(tab.base_url + "/#/ops")
    expect(tab.page.get_by_role("heading", name="Rooms")).to_be_visible()
    expect(tab.page.get_by_role("heading", name=re.compile("Operations"))).to_have_count(0)
