"""Message search in the chat UI, in headless Chromium against a real ``kiroku
serve``: results come only from the caller's rooms, name their room, and open it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from browser import Tab, checked_tab, screenshot
from chat_server import ChatServer
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def bob(server: ChatServer) -> str:
    """Ann talks about tomatoes in a room with bob and in one without him."""
    ann, bob = server.add_user("ann"), server.add_user("bob")
    auth = {"Authorization": f"Bearer {ann}"}
    with httpx.Client(base_url=server.base_url) as http:
        for name, members, body in (
            ("Garden", ["bob"], "the tomatoes need water"),
            ("Kitchen", [], "tomatoes for the soup"),
        ):
            made = http.post("/api/rooms", json={"name": name, "members": members}, headers=auth)
            room_id = made.raise_for_status().json()["room_id"]
            posted = http.post(f"/api/rooms/{room_id}/messages", json={"body": body}, headers=auth)
            posted.raise_for_status()
    return bob


@pytest.fixture
def tab(chromium: Browser, server: ChatServer, bob: str) -> Iterator[Tab]:
    with checked_tab(chromium, server.base_url) as opened:
        opened.sign_in(bob, "bob")
        yield opened


def search(tab: Tab, q: str) -> None:
    tab.page.get_by_label("Search messages").fill(q)
    tab.page.get_by_role("button", name="Search").click()


def test_search_finds_messages_in_the_callers_rooms_and_opens_the_room(tab: Tab) -> None:
    expect(tab.page.locator("#room-list")).to_contain_text("Garden")
    search(tab, "tomatoes")
    results = tab.page.locator("#search-results")
    expect(results).to_contain_text("1 match")
    hits = results.locator("a.search-hit")
    expect(hits).to_have_count(1)  # the Kitchen is not bob's room
    expect(hits.first).to_contain_text("Garden")
    expect(hits.first).to_contain_text("ann: the tomatoes need water")
    screenshot(tab.page, "chat-search")

    hits.first.click()
    expect(tab.page.locator("#room-title")).to_contain_text("Garden")
    expect(tab.message("the tomatoes need water")).to_be_visible()


def test_a_search_without_matches_says_so_and_escape_clears_it(tab: Tab) -> None:
    search(tab, "cucumbers")
    results = tab.page.locator("#search-results")
    expect(results).to_contain_text("No messages match “cucumbers”.")
    tab.page.get_by_label("Search messages").press("Escape")
    expect(results).to_be_empty()
