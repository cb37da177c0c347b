"""Parked events on the operations page in headless Chromium against a real
``kiroku serve``: a poisoned event shows with Retry and Skip; a failed retry says
why, and a skip asks for the reason and records it."""

from __future__ import annotations

import pytest
from browser import Tab, screenshot
from chat_server import ChatServer
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_parked_event_is_retried_then_skipped_from_the_page(tab: Tab, server: ChatServer) -> None:
    token = server.add_user("ann", admin=True)
    position = server.append_poison()
    tab.sign_in(token, "ann")
    page = tab.page
    page.goto(tab.base_url + "/#/ops")
    rows = page.locator("#parked-table tbody tr")
    expect(rows).to_have_count(4, timeout=15_000)  # history, rooms, search, timeline
    timeline = rows.filter(has_text="chat.timeline")
    expect(timeline).to_contain_text(str(position))

    timeline.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("alert")).to_contain_text("retry of chat.timeline")

    page.once("dialog", lambda dialog: dialog.accept("a producer bug"))
    timeline.get_by_role("button", name="Skip").click()
    expect(rows.filter(has_text="chat.timeline")).to_have_count(0)  # no longer open
    page.locator("#parked-resolved").check()  # resolved ones keep the record
    expect(timeline).to_contain_text("skipped")
    expect(timeline).to_contain_text("a producer bug (by ann)")
    expect(timeline.get_by_role("button", name="Skip")).to_have_count(0)
    screenshot(page, "ops-parked")
