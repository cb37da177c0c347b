"""The chat in a real headless Chromium against a real ``kiroku serve``.

The server runs as a subprocess on a temporary data directory and a free port;
users come from ``kiroku users add``. Each user has their own browser context,
so two people really are two separate pages with their own live streams.
Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from browser import Tab, open_tab, screenshot
from chat_server import ChatServer
from playwright.sync_api import Browser, Dialog, expect

pytestmark = pytest.mark.browser

OpenTab = Callable[..., Tab]


@pytest.fixture(scope="module")
def tokens(server: ChatServer) -> dict[str, str]:
    return {name: server.add_user(name, admin=name == "ann") for name in ("ann", "bob", "cy")}


@pytest.fixture
def tabs(chromium: Browser, server: ChatServer) -> Iterator[OpenTab]:
    """Opens pages; on teardown checks none of them hit a script error, then closes them."""
    opened: list[Tab] = []

    def open_one(width: int = 1280, height: int = 800) -> Tab:
        tab = open_tab(chromium, server.base_url, width=width, height=height)
        tab.page.on("dialog", Dialog.accept)  # "Delete this message?" and friends: yes
        opened.append(tab)
        return tab

    yield open_one
    try:
        for tab in opened:
            tab.assert_no_script_errors()
    finally:
        for tab in opened:
            tab.close()


def create_room(tab: Tab, name: str, members: str = "") -> None:
    page = tab.page
    page.get_by_placeholder("New room name").fill(name)
    page.get_by_label("Members", exact=True).fill(members)
    page.get_by_role("button", name="Create room").click()
    expect(page.locator("#room-title")).to_contain_text(name)
    expect(page.locator("#live-status")).to_have_text("Live")


def test_two_users_see_each_others_messages_arrive_live(
    tabs: OpenTab, tokens: dict[str, str]
) -> None:
    ann, bob = tabs(), tabs()
    ann.sign_in(tokens["ann"], "ann")
    create_room(ann, "Launch", "bob")
    bob.sign_in(tokens["bob"], "bob")
    bob.open_room("Launch")

    ann.post("Hello bob, the build is green")
    expect(bob.message("Hello bob, the build is green")).to_be_visible()
    bob.post("Great, shipping it")
    expect(ann.message("Great, shipping it")).to_be_visible()

    bob.message("Great, shipping it").get_by_role("button", name="Edit").click()
    bob.page.get_by_label("Edit message").fill("Great, shipping it at noon")
    bob.page.get_by_role("button", name="Save").click()
    edited = ann.message("Great, shipping it at noon")
    expect(edited).to_be_visible()
    expect(edited.locator(".edited")).to_have_text("(edited)")

    ann.message("Hello bob").get_by_role("button", name="Delete").click()
    expect(bob.page.locator("#timeline .message.deleted")).to_have_text(
        re.compile("This message was deleted")
    )
    expect(bob.message("Hello bob")).to_have_count(0)

    screenshot(ann.page, "chat-ann")
    screenshot(bob.page, "chat-bob")


def test_the_room_list_shows_the_last_message_and_unread_counts(
    tabs: OpenTab, tokens: dict[str, str]
) -> None:
    ann, bob = tabs(), tabs()
    bob.sign_in(tokens["bob"], "bob")
    ann.sign_in(tokens["ann"], "ann")
    create_room(ann, "Lunch", "bob")
    ann.post("Ramen at one?")
    ann.post("Or curry")

    bob.page.reload()  # other rooms' counts are read when the list is shown
    lunch = bob.page.locator("#room-list a", has_text="Lunch")
    expect(lunch.locator(".unread-count")).to_have_text("2")
    expect(lunch.locator(".room-preview")).to_have_text("ann: Or curry")
    screenshot(bob.page, "chat-unread")

    lunch.click()
    expect(bob.message("Ramen at one?")).to_be_visible()
    expect(lunch.locator(".unread-count")).to_have_count(0)  # read once seen

    bob.page.get_by_role("button", name="Leave this room").click()
    expect(bob.page.locator("#room-list")).not_to_contain_text("Lunch")
    expect(ann.page.locator("#member-list [data-member=bob]")).to_have_count(0)  # live


def test_members_rename_archive_and_problem_details_shown_to_the_user(
    tabs: OpenTab, tokens: dict[str, str]
) -> None:
    ann = tabs()
    ann.sign_in(tokens["ann"], "ann")
    create_room(ann, "Ops crew")
    page = ann.page
    members = page.locator("#member-list")

    page.get_by_label("User to add").fill("cy")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(members.locator("[data-member=cy]")).to_be_visible()

    page.get_by_label("User to add").fill("cy")  # a domain rejection: already a member
    page.get_by_role("button", name="Add", exact=True).click()
    notice = page.locator("#notices .notice").last
    expect(notice).to_contain_text("(422)")
    expect(notice).to_contain_text("cy")
    screenshot(page, "chat-error-notice")
    notice.get_by_role("button", name="Dismiss").click()
    expect(page.locator("#notices .notice")).to_have_count(0)

    page.get_by_role("button", name="Remove cy").click()
    expect(members.locator("[data-member=cy]")).to_have_count(0)

    page.get_by_role("button", name="Rename").click()
    page.get_by_label("New room name").fill("Ops crew (2026)")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#room-title")).to_have_text("Ops crew (2026)")
    expect(page.locator("#room-list")).to_contain_text("Ops crew (2026)")

    ann.post("Last words before the archive")
    page.get_by_role("button", name="Archive").click()
    expect(page.locator("#room-banner")).to_contain_text("archived")
    expect(page.get_by_label("Message", exact=True)).to_be_disabled()
    expect(page.get_by_label("User to add")).to_have_count(0)
    expect(page.get_by_role("button", name="Archive")).to_have_count(0)


def test_the_time_slider_shows_the_room_as_it_was(tabs: OpenTab, tokens: dict[str, str]) -> None:
    ann = tabs()
    ann.sign_in(tokens["ann"], "ann")
    create_room(ann, "Diary")
    for body in ("first", "second", "third"):
        ann.post(body)
    ann.message("second").get_by_role("button", name="Edit").click()
    ann.page.get_by_label("Edit message").fill("second, corrected")
    ann.page.get_by_role("button", name="Save").click()
    expect(ann.message("second, corrected")).to_be_visible()

    page = ann.page
    page.get_by_role("button", name="History").click()
    slider = page.get_by_role("slider", name="Room as of")
    label = page.locator("#time-label")
    # Created, three posts, one edit: five events, and a sixth stop for "now".
    expect(slider).to_have_attribute("max", "5")
    expect(label).to_contain_text("Now (live)")

    slider.fill("1")
    expect(label).to_contain_text("Event 2 of 5: ann posted a message")
    expect(page.locator("#room-banner")).to_contain_text("as it was on")
    expect(page.locator("#timeline .message")).to_have_count(1)
    expect(ann.message("first")).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_be_disabled()

    slider.fill("3")  # after the third post, before the edit
    expect(page.locator("#timeline .message")).to_have_count(3)
    expect(ann.message("second")).not_to_contain_text("corrected")
    expect(page.locator("#timeline .edited")).to_have_count(0)
    screenshot(page, "time-slider")

    page.get_by_label("Jump to a time").fill("2000-01-01T00:00:00")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(label).to_contain_text("The room did not exist yet")
    page.get_by_label("Jump to a time").fill("2999-01-01T00:00:00")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(label).to_contain_text("Event 5 of 5: ann edited a message")
    expect(ann.message("second, corrected")).to_be_visible()

    page.get_by_role("button", name="Back to live").click()
    expect(ann.message("second, corrected").locator(".edited")).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()


def test_a_bad_token_is_refused_and_sign_out_forgets_the_token(
    tabs: OpenTab, tokens: dict[str, str]
) -> None:
    tab = tabs()
    tab.page.goto(tab.base_url + "/")
    tab.page.get_by_label("Token").fill("not-a-token")
    tab.page.get_by_role("button", name="Sign in").click()
    expect(tab.page.locator("#token-error")).to_have_text("That token is not valid.")

    tab.sign_in(tokens["cy"], "cy")
    tab.page.reload()  # the token is remembered
    expect(tab.page.locator("#whoami-name")).to_have_text("cy")
    expect(tab.page.get_by_role("link", name="Operations")).to_be_hidden()  # not an admin
    tab.page.get_by_role("button", name="Sign out").click()
    tab.page.reload()
    expect(tab.page.get_by_label("Token")).to_be_visible()


def test_small_screens_show_the_list_or_the_room(tabs: OpenTab, tokens: dict[str, str]) -> None:
    phone = tabs(width=390, height=800)
    phone.sign_in(tokens["bob"], "bob")
    expect(phone.page.locator("#room-list")).to_be_visible()
    create_room(phone, "Pocket")
    expect(phone.page.locator("#room-list")).to_be_hidden()
    expect(phone.page.locator("#members-panel")).to_be_hidden()
    phone.page.get_by_role("button", name=re.compile("Members")).click()
    expect(phone.page.locator("#members-panel")).to_be_visible()
    screenshot(phone.page, "phone-room")
    phone.page.get_by_role("link", name="← Rooms").click()
    expect(phone.page.locator("#room-list")).to_contain_text("Pocket")
    screenshot(phone.page, "phone-rooms")


def test_message_text_is_shown_as_text_never_as_markup(
    tabs: OpenTab, tokens: dict[str, str]
) -> None:
    ann = tabs()
    ann.sign_in(tokens["ann"], "ann")
    create_room(ann, "Markup")
    body = '<img src=x onerror="document.title=1"><b>bold</b>'
    ann.post(body)
    expect(ann.message(body).locator(".body")).to_have_text(body)
    expect(ann.page.locator("#timeline img, #timeline b")).to_have_count(0)


def test_older_messages_load_on_demand(
    tabs: OpenTab, tokens: dict[str, str], server: ChatServer
) -> None:
    auth = {"Authorization": f"Bearer {tokens['bob']}"}
    with httpx.Client(base_url=server.base_url, headers=auth) as http:
        created = http.post("/api/rooms", json={"name": "Archive of talk"}).raise_for_status()
        room = f"/api/rooms/{created.json()['room_id']}/messages"
        for n in range(1, 56):
            http.post(room, json={"body": f"note {n}"}).raise_for_status()
    bob = tabs()
    bob.sign_in(tokens["bob"], "bob")
    bob.open_room("Archive of talk")
    messages = bob.page.locator("#timeline .message")
    expect(messages).to_have_count(50)
    expect(messages.first.locator(".body")).to_have_text("note 6")
    expect(messages.last.locator(".body")).to_have_text("note 55")
    bob.page.get_by_role("button", name="Load older messages").click()
    expect(messages).to_have_count(55)
    expect(messages.first.locator(".body")).to_have_text("note 1")
    expect(bob.page.get_by_role("button", name="Load older messages")).to_be_hidden()
