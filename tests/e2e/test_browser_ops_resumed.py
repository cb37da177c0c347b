"""The operations page in headless Chromium shows a rebuild taken up after its
projector process was killed: running and "resumed after a restart" while the
gate of ``gated_app`` holds it, then done, still saying it was resumed; at the
desktop width and at a phone's. A page opened while the projector is away says
so and fills in by itself once it is back."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import checked_tab, screenshot
from chat_server import alive, children
from gated_app import GATE_FILE
from playwright.sync_api import Browser, expect
from resume_kit import NAME, gated_history, serve, start_held_rebuild, until

pytestmark = pytest.mark.browser


@pytest.fixture
def gated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, int]]:
    with gated_history(tmp_path, monkeypatch) as found:
        yield found


def test_a_resumed_rebuild_says_so_while_it_runs_and_once_done(
    chromium: Browser, gated: tuple[Path, int]
) -> None:
    data, head = gated
    server = serve(data)
    try:
        token = server.add_user("ann", admin=True)
        start_held_rebuild(server, head, token)
        with checked_tab(chromium, server.base_url) as tab:
            page = tab.page
            tab.sign_in(token, "ann")
            (child,) = children(server.process.pid)
            os.kill(child, signal.SIGSTOP)  # away: it answers no operation until continued
            page.set_viewport_size({"width": 1440, "height": 900})
            page.get_by_role("link", name="Operations").click()
            away = page.locator("#projections-unavailable")
            expect(away).to_contain_text("projector process is not available", timeout=30_000)
            screenshot(page, "ops-projector-away-1440")
            os.kill(child, signal.SIGKILL)
            until(lambda: True if not alive(child) else None)
            row = page.locator(f'#projection-table tr[data-projection="{NAME}"]')
            expect(row).to_contain_text("resumed after a restart", timeout=30_000)
            expect(row).to_contain_text("rebuild")
            resumed = row.get_by_text("resumed after a restart")
            for width in (1440, 390):
                page.set_viewport_size({"width": width, "height": 900})
                expect(resumed).to_be_visible()  # on a phone too, where an empty cell hides
                screenshot(page, f"ops-resumed-running-{width}")
            Path(os.environ[GATE_FILE]).unlink()
            expect(row).to_contain_text("rebuild done", timeout=30_000)
            expect(row).to_contain_text("resumed after a restart")
            for width in (1440, 390):
                page.set_viewport_size({"width": width, "height": 900})
                expect(resumed).to_be_visible()
                screenshot(page, f"ops-resumed-done-{width}")
    finally:
        assert server.stop() == 0, server.log()
