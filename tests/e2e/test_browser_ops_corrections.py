"""The operations page's corrections tools in headless Chromium against a real
``kiroku serve``: the event catalog drawn as SVG by the page from the catalog's
JSON, and retracting an event from the event browser (reason prompt, late flag,
blast radius), confirmed against the journal over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from browser import Tab, checked_tab, screenshot
from chat_server import ChatServer
from playwright.sync_api import Browser, Dialog, expect

pytestmark = pytest.mark.browser

REASON = "posted in the wrong room"


@pytest.fixture(scope="module")
def admin(server: ChatServer) -> str:
    token = server.add_user("ann", admin=True)
    with httpx.Client(base_url=server.base_url) as http:
        auth = {"Authorization": f"Bearer {token}"}
        room = http.post("/api/rooms", json={"name": "Billing"}, headers=auth)
        room_id = room.raise_for_status().json()["room_id"]
        for body in ("invoice sent", "refund issued"):
            posted = http.post(f"/api/rooms/{room_id}/messages", json={"body": body}, headers=auth)
            posted.raise_for_status()
    return token


@pytest.fixture
def tab(chromium: Browser, server: ChatServer, admin: str) -> Iterator[Tab]:
    with checked_tab(chromium, server.base_url) as opened:
        opened.sign_in(admin, "ann")
        opened.page.goto(opened.base_url + "/#/ops")
        yield opened


def test_the_catalog_is_drawn_from_aggregates_through_events_to_consumers(
    tab: Tab, server: ChatServer, admin: str
) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.get("/api/admin/catalog", headers={"Authorization": f"Bearer {admin}"})
    catalog = answer.raise_for_status().json()["catalog"]
    graph = tab.page.locator("svg#catalog-graph")
    expect(graph).to_be_visible()
    for kind, key in (("aggregate", "aggregates"), ("event", "events"), ("consumer", "consumers")):
        expect(graph.locator(f"g.catalog-{kind}")).to_have_count(len(catalog[key]))
    emitted = sum(len(e["emitted_by"]) + len(e["handled_by"]) for e in catalog["events"])
    expect(graph.locator("path.catalog-edge")).to_have_count(emitted)
    for node in ("aggregate:room", "event:chat.MessagePosted", "consumer:chat.timeline"):
        expect(graph.locator(f'g[data-node="{node}"]')).to_be_visible()
    emits = graph.locator('path[data-from="aggregate:room"][data-to="event:chat.MessagePosted"]')
    expect(emits).to_have_count(1)
    handled = graph.locator('path[data-from="event:chat.MessagePosted"]')
    expect(handled.and_(graph.locator('[data-to="consumer:chat.timeline"]'))).to_have_count(1)
    tab.page.get_by_text("Mermaid source").click()
    expect(tab.page.locator("#catalog-mermaid")).to_contain_text("flowchart LR")
    tab.page.locator("#catalog").scroll_into_view_if_needed()
    screenshot(tab.page, "ops-catalog")


def test_retracting_an_event_shows_the_blast_radius_and_writes_the_retraction(
    tab: Tab, server: ChatServer, admin: str
) -> None:
    page = tab.page
    prompts: list[str] = []

    def answer(dialog: Dialog) -> None:
        prompts.append(dialog.message)
        dialog.accept(REASON)

    page.on("dialog", answer)
    page.get_by_role("button", name="Open event 2").click()
    detail = page.locator("#event-detail")
    expect(detail.get_by_role("heading", name="Event 2: chat.MessagePosted")).to_be_visible()
    expect(page.locator('#ledger tr[data-consumer="chat.timeline"]')).to_contain_text("applied")

    detail.get_by_role("button", name="Retract").click()
    result = page.locator("#retraction-result")
    expect(result).to_contain_text("Retracted: written at position 4 (version 4)")
    expect(result).to_contain_text("Within the compensation window")
    expect(page.locator('#blast-radius tr[data-consumer="chat.timeline"]')).to_contain_text(
        "processed"
    )
    assert prompts == ["Why is event 2 (chat.MessagePosted) invalid?"]
    screenshot(page, "ops-retraction")

    with httpx.Client(base_url=server.base_url) as http:
        written = http.get("/api/admin/events/4", headers={"Authorization": f"Bearer {admin}"})
    event = written.raise_for_status().json()["event"]
    assert event["type"] == "kiroku.EventRetracted"
    assert event["data"]["retracted_position"] == 2
    assert event["data"]["reason"] == REASON
    assert event["data"]["retracted_by"] == "ann"

    page.get_by_role("button", name="Open event 4").click()
    expect(detail.get_by_role("heading", name="Event 4: kiroku.EventRetracted")).to_be_visible()
    expect(detail.get_by_role("button", name="Retract")).to_have_count(0)  # system events cannot be
