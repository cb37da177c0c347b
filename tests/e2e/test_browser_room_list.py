"""The room list in headless Chromium stays live: while one room is open, messages
posted in another raise that room's unread count, pushed over ``/api/stream``
without a reload, focus change or poll."""

from __future__ import annotations

import httpx
import pytest
from browser import Tab, screenshot
from chat_server import ChatServer
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tokens(server: ChatServer) -> dict[str, str]:
    return {"ann": server.add_user("ann"), "bob": server.add_user("bob")}


def test_other_rooms_unread_counts_rise_while_a_room_is_open(
    tab: Tab, server: ChatServer, tokens: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {tokens['ann']}"}
    with httpx.Client(base_url=server.base_url) as http:
        ids = {}
        for name in ("Front desk", "Back office"):
            made = http.post("/api/rooms", json={"name": name, "members": ["bob"]}, headers=auth)
            ids[name] = made.raise_for_status().json()["room_id"]

        tab.sign_in(tokens["bob"], "bob")
        tab.open_room("Front desk")
        back = tab.page.locator(f'#room-list a[data-room-id="{ids["Back office"]}"]')
        expect(back.locator(".unread-count")).to_have_count(0)

        for body in ("boxes arrived", "and the printer"):
            posted = http.post(
                f"/api/rooms/{ids['Back office']}/messages", json={"body": body}, headers=auth
            )
            posted.raise_for_status()

    expect(back.get_by_label("2 unread")).to_be_visible()
    expect(back).to_contain_text("ann: and the printer")
    expect(tab.page.locator("#room-title")).to_contain_text("Front desk")  # still there
    screenshot(tab.page, "chat-room-list-live")
