"""Fixtures shared by the end-to-end tests: one headless Chromium and one
``kiroku serve`` per test module, and a checked page per test (a module may
override any of them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from chat_server import ChatServer

if TYPE_CHECKING:
    from browser import Tab
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    from browser import launch  # imported here: only browser tests need Playwright

    with launch() as browser:
        yield browser


@pytest.fixture
def tab(chromium: Browser, server: ChatServer) -> Iterator[Tab]:
    """One page on the module's server, checked for script errors when the test ends."""
    from browser import checked_tab

    with checked_tab(chromium, server.base_url) as opened:
        yield opened


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChatServer]:
    running = ChatServer.start(tmp_path_factory.mktemp(request.module.__name__) / "data")
    yield running
    running.stop()
