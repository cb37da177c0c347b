"""``kiroku serve --demo`` in headless Chromium: the sign-in page offers the demo
users, one click signs in, and the demo rooms are there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser import open_tab, screenshot
from chat_server import ChatServer
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_server(
    chromium: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChatServer]:
    """Asks for the browser first, so a missing chromium skips before a server starts."""
    running = ChatServer.start(tmp_path_factory.mktemp("browser-demo") / "data", demo=True)
    yield running
    running.stop()


def test_the_demo_users_are_offered_on_the_sign_in_page(
    chromium: Browser, demo_server: ChatServer
) -> None:
    tab = open_tab(chromium, demo_server.base_url)
    try:
        tab.page.goto(demo_server.base_url + "/")
        offered = tab.page.locator("#demo-users")
        expect(offered.get_by_role("button", name="ann (admin)")).to_be_visible()
        screenshot(tab.page, "sign-in-demo")
        offered.get_by_role("button", name="bob", exact=True).click()
        expect(tab.page.locator("#whoami-name")).to_have_text("bob")
        expect(tab.page.locator("#room-list a").first).to_be_visible()
        tab.assert_no_script_errors()
    finally:
        tab.close()
