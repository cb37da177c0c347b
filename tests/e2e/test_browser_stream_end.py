"""How the room page treats a stream that speaks about itself, in headless Chromium.

The page is served by a small stand-in server whose room stream first asks the
page to ``resume`` (it must reconnect at once, from the last id it saw) and then
``end``s access (the page must stop reconnecting and say why). Everything else
the page reads is canned, so the test is about the page alone.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import uvicorn
from browser import Tab, open_tab
from playwright.sync_api import Browser, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from kiroku.web import routes as web_routes

pytestmark = pytest.mark.browser

ROOM = {
    "room_id": "r1", "name": "Lobby", "members": ["ann", "bob"], "owner": "ann",
    "archived": False, "version": 3, "unread": 0, "last_message": None,
}  # fmt: skip


class StandIn:
    """Counts room-stream connections and what ``after`` each asked for."""

    def __init__(self) -> None:
        self.connections: list[str] = []

    async def room_stream(self, request: Request) -> Response:
        self.connections.append(request.query_params.get("after", ""))
        first = len(self.connections) == 1
        entry = {"type": "chat.MessagePosted", "position": 9, "version": 4, "stream": "room-r1",
                 "occurred_at": "2026-01-01T00:00:00+00:00",
                 "data": {"message_id": "m1", "author": "ann", "body": "hello"}}  # fmt: skip

        async def frames() -> AsyncIterator[bytes]:
            if first:
                yield f"id: 4\nevent: chat.MessagePosted\ndata: {json.dumps(entry)}\n\n".encode()
                yield b'event: resume\ndata: {"reason": "slow-consumer"}\n\n'
            else:
                yield b'event: end\ndata: {"reason": "member-removed"}\n\n'
            await asyncio.sleep(0.2)

        return StreamingResponse(frames(), media_type="text/event-stream")

    async def list_stream(self, request: Request) -> Response:
        async def frames() -> AsyncIterator[bytes]:
            yield f"event: rooms\ndata: {json.dumps({'rooms': [ROOM]})}\n\n".encode()
            await asyncio.sleep(30)

        return StreamingResponse(frames(), media_type="text/event-stream")


def _json(body: object) -> Callable[[Request], Awaitable[Response]]:
    async def answer(request: Request) -> Response:
        return JSONResponse(body)

    return answer


def _app(stand_in: StandIn) -> Starlette:
    canned = {
        "/api/me": {"name": "bob", "admin": False},
        "/api/app": {"name": "chat", "chat": True, "projections": []},
        "/api/rooms": {"rooms": [ROOM]},
        "/api/rooms/r1": ROOM,
        "/api/rooms/r1/messages": {"messages": []},
        "/readyz": {"status": "ready", "failing": [], "behind": []},
    }
    routes: list[BaseRoute] = [Route(path, _json(body)) for path, body in canned.items()]
    routes += [
        Route("/api/rooms/r1/stream", stand_in.room_stream),
        Route("/api/stream", stand_in.list_stream),
        *web_routes(),
    ]
    return Starlette(routes=routes)


@pytest.fixture
def served() -> Iterator[tuple[str, StandIn]]:
    stand_in = StandIn()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app(stand_in), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", stand_in
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def tab(chromium: Browser, served: tuple[str, StandIn]) -> Iterator[Tab]:
    opened = open_tab(chromium, served[0])
    try:
        yield opened
    finally:
        opened.close()


def test_resume_reconnects_at_once_and_end_stops_and_says_why(
    tab: Tab, served: tuple[str, StandIn]
) -> None:
    tab.sign_in("any-token", "bob")
    tab.page.goto(tab.base_url + "/#/rooms/r1")
    expect(tab.page.locator("#room-banner")).to_contain_text(
        "You are no longer a member of this room."
    )
    expect(tab.page.locator("#live-status")).to_have_text("Disconnected")
    expect(tab.page.locator("#composer")).to_be_disabled()
    tab.page.wait_for_timeout(4000)  # EventSource would retry after ~3 s: it must not
    stand_in = served[1]
    assert stand_in.connections == ["3", "4"]  # resumed from the last id seen, then no more
    assert tab.errors == []
