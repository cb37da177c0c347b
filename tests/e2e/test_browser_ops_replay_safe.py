"""The operations page says before anything runs whether Replay is allowed, and
says a parked outcome plainly, in headless Chromium against ``kiroku serve --app
safety_app:app``: ``ops.tally`` (not replay-safe) is offered Rebuild only, with
the reason; a replay of ``ops.notes`` that parks every event ends as a warning
naming the count with a way to the parked list; a replay the server refuses
shows the server's refusal in the row."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser import Tab, checked_tab, open_tab, screenshot
from chat_server import ChatServer, bearer
from playwright.sync_api import Browser, Route, expect
from safety_app import append_notes

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
NOTES = ["one", "two", "three"]
REASON = "not replay-safe: handlers are not idempotent — Rebuild instead"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(
        tmp_path_factory.mktemp("safety") / "data", extra=("--app", "safety_app:app"), cwd=HERE
    )
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture(scope="module")
def ann(server: ChatServer) -> str:
    token = server.add_user("ann", admin=True)
    append_notes(server.data_dir, NOTES)
    with httpx.Client(base_url=server.base_url, headers=bearer(token)) as http:
        for _ in range(200):
            rows = http.get("/api/admin/projections").json()["projections"]
            if all(p["position"] == len(NOTES) for p in rows):
                break
            time.sleep(0.05)
    return token


@pytest.fixture
def tab(chromium: Browser, server: ChatServer) -> Iterator[Tab]:
    with checked_tab(chromium, server.base_url) as opened:
        yield opened


def _ops(tab: Tab, token: str) -> None:
    tab.sign_in(token, "ann")
    tab.page.goto(tab.base_url + "/#/ops")
    expect(tab.page.get_by_role("heading", name="Operations")).to_be_visible()


def _count(server: ChatServer, token: str) -> object:
    with httpx.Client(base_url=server.base_url, headers=bearer(token)) as http:
        return http.get("/api/read/ops.tally/totals/all").json()["doc"]["count"]


def test_replay_is_not_offered_for_a_projection_that_is_not_replay_safe(tab: Tab, ann: str) -> None:
    _ops(tab, ann)
    tally = tab.page.locator('#projection-table tr[data-projection="ops.tally"]')
    expect(tally).to_contain_text("Replay not offered")
    expect(tally).to_contain_text(REASON)
    expect(tally.get_by_role("button", name="Replay")).to_be_hidden()
    expect(tally.get_by_role("button", name="Rebuild")).to_be_enabled()

    notes = tab.page.locator('#projection-table tr[data-projection="ops.notes"]')
    expect(notes.get_by_role("button", name="Replay")).to_be_visible()
    expect(notes.get_by_text("Replay not offered")).to_be_hidden()


def test_a_replay_that_parked_events_is_a_warning_pointing_at_the_parked_list(
    tab: Tab, ann: str
) -> None:
    _ops(tab, ann)
    page = tab.page
    notes = page.locator('#projection-table tr[data-projection="ops.notes"]')
    notes.get_by_label("Replay ops.notes from position or time").fill("1")
    notes.get_by_role("button", name="Replay").click()
    outcome = notes.locator(".task .status")
    expect(outcome).to_have_text(f"⚠ replay done with {len(NOTES)} parked", timeout=15_000)
    expect(outcome).to_have_class("status status-warn-outcome")  # not the green "done"

    notes.get_by_role("button", name=f"Show the {len(NOTES)} parked events").click()
    title = page.locator("#parked-title")
    expect(title).to_be_focused()
    expect(title).to_be_in_viewport()
    expect(page.locator("#parked-table")).to_contain_text("ops.notes")


def test_a_replay_the_server_refuses_shows_the_refusal(
    tab: Tab, ann: str, server: ChatServer
) -> None:
    """A page that believes ``ops.tally`` replay-safe (as one loaded before a
    deployment changed it would): the real server refuses, and the row says why."""

    def believed_safe(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        for row in body["projections"]:
            row["replay_safe"] = True
        route.fulfill(response=answer, body=json.dumps(body))

    tab.page.route("**/api/admin/projections", believed_safe)
    _ops(tab, ann)
    tally = tab.page.locator('#projection-table tr[data-projection="ops.tally"]')
    tally.get_by_label("Replay ops.tally from position or time").fill("1")
    tally.get_by_role("button", name="Replay").click()
    refusal = tally.get_by_role("alert")
    expect(refusal).to_contain_text("Replay of ops.tally refused")
    expect(refusal).to_contain_text("Rebuild it instead")
    assert _count(server, ann) == len(NOTES)  # nothing was applied twice


@pytest.mark.parametrize("width", [1440, 390])
def test_screenshots_of_both_states(
    chromium: Browser, server: ChatServer, ann: str, width: int
) -> None:
    tab = open_tab(chromium, server.base_url, width=width, height=900)
    try:
        _ops(tab, ann)
        page = tab.page
        tally = page.locator('#projection-table tr[data-projection="ops.tally"]')
        expect(tally).to_contain_text("Replay not offered")
        expect(page.locator(".status-warn-outcome")).to_be_visible(timeout=15_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(page, f"ops-replay-safety-{width}")
        tab.assert_no_script_errors()
    finally:
        tab.close()
