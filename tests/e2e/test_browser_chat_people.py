"""What people expect of a chat page, in headless Chromium against ``kiroku serve``:
formatting that is safe, grouping by author and minute, relative times, a marker
and a jump button for new messages, the unread count in the tab title, errors
naming the room, and (last, since it poisons the read side) an own message shown
and confirmed by position while the page says messages are delayed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from browser import ARTIFACTS, Tab, open_tab, screenshot
from chat_server import ChatServer
from playwright.sync_api import Browser, Dialog, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def people(server: ChatServer) -> dict[str, str]:
    tokens = {name: server.add_user(name, admin=name == "ann") for name in ("ann", "bob")}
    with httpx.Client(base_url=server.base_url) as http:
        auth = {"Authorization": f"Bearer {tokens['ann']}"}
        for name in ("Lobby", "Elsewhere"):
            body = {"name": name, "members": ["bob"]}
            room = http.post("/api/rooms", json=body, headers=auth).raise_for_status().json()
            tokens[name] = room["room_id"]
    return tokens


def _as(server: ChatServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def ann(chromium: Browser, server: ChatServer, people: dict[str, str]) -> Iterator[Tab]:
    tab = open_tab(chromium, server.base_url, width=1440, height=900)
    tab.page.on("dialog", Dialog.accept)
    try:
        tab.sign_in(people["ann"], "ann")
        tab.open_room("Lobby")
        yield tab
        tab.assert_no_script_errors()
    finally:
        tab.close()


def test_formatting_is_safe_and_messages_group_by_author_and_minute(ann: Tab) -> None:
    body = "see https://example.com/a?b=1, `x = 1` and **big** <img src=x onerror=alert(1)>"
    ann.page.get_by_label("Message", exact=True).fill(body)
    ann.page.get_by_role("button", name="Send").click()
    message = ann.message("see https://example.com")
    expect(message.locator('a[href="https://example.com/a?b=1"]')).to_have_attribute(
        "rel", "noopener noreferrer nofollow"
    )
    expect(message.locator("code")).to_have_text("x = 1")
    expect(message.locator("strong")).to_have_text("big")
    expect(message.locator("img")).to_have_count(0)  # text, never markup
    expect(message).to_contain_text("<img src=x onerror=alert(1)>")
    ann.post("and one more")
    expect(ann.message("and one more")).to_have_class(re.compile(r"\bgrouped\b"))
    stamp = message.locator("time")
    expect(stamp).to_have_text("just now")
    expect(stamp).to_have_attribute("title", re.compile(r"\d{4}"))


def test_new_messages_are_marked_and_counted_when_scrolled_up(
    ann: Tab, server: ChatServer, people: dict[str, str]
) -> None:
    with _as(server, people["bob"]) as bob:
        for i in range(30):
            bob.post(f"/api/rooms/{people['Lobby']}/messages", json={"body": f"filler {i}"})
        expect(ann.message("filler 29")).to_be_visible()
        ann.page.locator(".timeline-scroll").evaluate("el => { el.scrollTop = 0; }")
        bob.post(f"/api/rooms/{people['Lobby']}/messages", json={"body": "while you read"})
        jump = ann.page.locator("#jump-bottom")
        expect(jump).to_have_text("↓ 1 new message")
        expect(ann.message("while you read")).to_have_class(re.compile(r"\bfirst-new\b"))
        jump.click()
        expect(jump).to_be_hidden()

        bob.post(f"/api/rooms/{people['Elsewhere']}/messages", json={"body": "over here"})
        expect(ann.page).to_have_title(re.compile(r"^\(1\) Lobby · kiroku$"))
    screenshot(ann.page, "chat-1440")


def test_errors_name_the_room_and_stay_clear_of_the_composer(ann: Tab) -> None:
    page = ann.page
    if page.locator("#members-panel").is_hidden():
        page.get_by_role("button", name="Members").click()
    page.get_by_label("User to add").fill("bob")
    page.locator(".add-member").get_by_role("button", name="Add").click()
    notice = page.get_by_role("alert").filter(has_text="already a member")
    expect(notice).to_contain_text('room "Lobby"')
    notice_box, composer_box = notice.bounding_box(), page.locator("#composer").bounding_box()
    assert notice_box is not None
    assert composer_box is not None
    assert notice_box["y"] + notice_box["height"] < composer_box["y"]
    expect(notice).to_have_count(0, timeout=12_000)  # it dismisses itself


def test_the_page_on_a_phone(chromium: Browser, server: ChatServer, people: dict[str, str]) -> None:
    tab = open_tab(chromium, server.base_url, width=390, height=844)
    try:
        tab.sign_in(people["bob"], "bob")
        tab.open_room("Lobby")
        expect(tab.message("while you read")).to_be_visible()
        width = tab.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the chat is {width} px wide on a 390 px screen"
        ARTIFACTS.mkdir(exist_ok=True)
        tab.page.screenshot(path=str(ARTIFACTS / "chat-390.png"), animations="disabled")
        tab.assert_no_script_errors()
    finally:
        tab.close()


def test_an_own_post_the_read_side_cannot_show_yet_stays_on_screen(
    ann: Tab, server: ChatServer
) -> None:
    server.append_poison()  # chat.timeline stops: the read side is failed
    status = ann.page.locator("#live-status")
    expect(status).to_have_text("Messages are delayed", timeout=15_000)
    ann.page.get_by_label("Message", exact=True).fill("can anyone see this?")
    ann.page.get_by_role("button", name="Send").click()
    # still pending: the read side has not confirmed it
    mine = ann.page.locator("#timeline .message[data-pending]").filter(has_text="can anyone see")
    expect(mine).to_be_visible()
    expect(mine).to_contain_text(re.compile(r"Sent \(position \d+\) · messages are delayed"))
    expect(ann.page.get_by_label("Message", exact=True)).to_have_value("")
    screenshot(ann.page, "chat-delayed-1440")
