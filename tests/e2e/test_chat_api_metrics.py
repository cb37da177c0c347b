"""``/metrics`` needs no token, so it must tell nothing about any user: after traffic
full of user names, room and message ids, tokens and message text (in paths, queries
and bodies, on known and unknown routes), none of them appears in it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from chat_server import ChatServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(tmp_path_factory.mktemp("metrics") / "data")
    yield running
    running.stop()


def test_metrics_are_served_without_a_token_and_leak_nothing_per_user(server: ChatServer) -> None:
    token = server.add_user("zelda_secret_name", admin=True)
    secrets = {"zelda_secret_name", token, "body-text-xyzzy", "room-name-plugh"}
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        auth = {"Authorization": f"Bearer {token}"}
        room = c.post("/api/rooms", json={"name": "room-name-plugh"}, headers=auth).json()
        room_id = room["room_id"]
        posted = c.post(
            f"/api/rooms/{room_id}/messages", json={"body": "body-text-xyzzy"}, headers=auth
        ).json()
        secrets |= {room_id, posted["message_id"]}
        c.get(f"/api/rooms/{room_id}/messages", params={"access_token": token})
        c.get(f"/api/rooms/{room_id}/messages/{posted['message_id']}", headers=auth)
        c.get(f"/no-such-route/{room_id}/zelda_secret_name")
        c.get(f"/api/rooms/{room_id}", headers={"Authorization": "Bearer zelda_secret_name"})
        c.get("/api/search", params={"q": "body-text-xyzzy"}, headers=auth)
        scraped = c.get("/metrics")
    assert scraped.status_code == 200
    text = scraped.text
    for secret in secrets:
        assert secret not in text
    labels = set(re.findall(r'(\w+)="', text))
    assert labels <= {"method", "route", "status", "projection", "le", "stream"}
    assert set(re.findall(r'stream="([^"]*)"', text)) <= {"room", "list"}  # kinds, never ids
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert all(r == "other" or r.startswith("/") for r in routes)
    assert "/api/rooms/{room_id}/messages" in routes
