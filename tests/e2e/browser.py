"""Headless Chromium for the end-to-end tests: launching it, signing in, watching for
script errors, and saving screenshots under ``test-artifacts/``.

The browser is Debian's ``chromium`` package driven by Playwright through
``executable_path``; Playwright's own browser downloads are never used. Outside CI
a machine without ``chromium`` skips the browser tests and says why; with
``CI=true`` a missing browser is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    expect,
    sync_playwright,
)

__all__ = [
    "ARTIFACTS",
    "CHROMIUM_ARGS",
    "Tab",
    "chromium_path",
    "launch",
    "open_tab",
    "screenshot",
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# A failed request logs "Failed to load resource" to the console; the tests that
# provoke an API error on purpose check the notice the page shows instead.
_EXPECTED_CONSOLE = re.compile(r"Failed to load resource")


def chromium_path() -> str:
    """Debian's chromium; skips (outside CI only) when it is not installed."""
    found = shutil.which("chromium")
    if found:
        return found
    why = "Debian's chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}; under CI=true the browser tests must run")
    pytest.skip(f"{why}; the browser tests run under CI=true")


@contextmanager
def launch() -> Iterator[Browser]:
    """A headless Chromium for the duration of the block."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """One user's page in its own browser context (own cookies and localStorage)."""

    context: BrowserContext
    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)

    def sign_in(self, token: str, name: str) -> None:
        """Sign in through the form, as a person would."""
        self.page.goto(self.base_url + "/")
        self.page.get_by_label("Token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#whoami-name")).to_contain_text(name)

    def open_room(self, name: str) -> None:
        self.page.locator("#room-list").get_by_role(
            "link", name=re.compile(re.escape(name))
        ).click()
        expect(self.page.locator("#room-title")).to_contain_text(name)
        expect(self.page.locator("#live-status")).to_have_text("Live")

    def post(self, body: str) -> None:
        self.page.get_by_label("Message", exact=True).fill(body)
        self.page.get_by_role("button", name="Send").click()
        # shown at once as pending; settled once the live stream confirms it
        expect(self.message(body)).to_be_visible(timeout=15_000)

    def message(self, body: str) -> Locator:
        """A settled message (the stream confirmed it), not one's own pending copy."""
        return self.page.locator("#timeline .message:not([data-pending])").filter(has_text=body)

    def assert_no_script_errors(self) -> None:
        assert self.errors == [], f"the page reported errors: {self.errors}"

    def close(self) -> None:
        self.context.close()


def open_tab(browser: Browser, base_url: str, *, width: int = 1280, height: int = 800) -> Tab:
    """A fresh context and page that records uncaught script errors and console errors."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    tab = Tab(context, page, base_url)
    page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not _EXPECTED_CONSOLE.search(message.text):
            tab.errors.append(f"console: {message.text}")

    page.on("console", on_console)
    return tab


@contextmanager
def checked_tab(browser: Browser, base_url: str) -> Iterator[Tab]:
    """A tab for one test; when the test is done with it, it must have met no script error."""
    opened = open_tab(browser, base_url)
    try:
        yield opened
        opened.assert_no_script_errors()
    finally:
        opened.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path
