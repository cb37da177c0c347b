"""Every integer and position parameter the OpenAPI document lists, in a query or a
path, fed other scripts' digits and numbers past the journal's range: always a 400
problem naming the parameter, never a 5xx. The sweep reads the document, so a
parameter added later is swept too. Plus the other text parsers (``as_of``, ``q``)
and the connection a 500 leaves behind."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from chat_server import ChatServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiroku.api.problems import handle_error

BAD_INTEGERS = ["²", "٣", "\uff15", "9" * 24, "-1", "1e3", " 7"]
FILLER = {
    "room_id": "",
    "message_id": "",
    "user": "bob",
    "name": "chat.rooms",
    "projection": "chat.rooms",
    "collection": "rooms",
    "id": "x",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(tmp_path_factory.mktemp("params") / "data")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(server: ChatServer) -> Iterator[httpx.Client]:
    token = server.add_user("ann", admin=True)
    server.add_user("bob")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        room = client.post("/api/rooms", json={"name": "r", "members": ["bob"]}).json()["room_id"]
        posted = client.post(f"/api/rooms/{room}/messages", json={"body": "hi"}).json()
        FILLER.update(room_id=room, message_id=posted["message_id"])
        yield client


def _integer_parameters(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(method, path, where, name) of every integer parameter, and of every ``as_of``."""
    found = []
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for p in op.get("parameters", []):
                if p["in"] in ("query", "path") and (
                    p["schema"].get("type") == "integer" or p["name"] == "as_of"
                ):
                    found.append((method.upper(), path, p["in"], p["name"]))
    return found


def test_the_sweep_covers_the_parameters_known_today(admin: httpx.Client) -> None:
    names = {
        (path, name) for _, path, _, name in _integer_parameters(admin.get("/openapi.json").json())
    }
    assert ("/api/admin/events/{position}", "position") in names
    assert ("/api/rooms/{room_id}/history", "after") in names
    assert ("/api/rooms/{room_id}/messages", "as_of") in names
    assert len(names) >= 13


def test_every_integer_parameter_refuses_what_is_not_an_ascii_integer_in_range(
    admin: httpx.Client,
) -> None:
    failures = []
    for method, template, where, name in _integer_parameters(admin.get("/openapi.json").json()):
        for bad in BAD_INTEGERS:
            if name == "as_of" and bad == "-1":
                continue  # not a position, and not a time either: covered by "1e3"
            values = {**FILLER, name: quote(bad, safe="")} if where == "path" else FILLER
            path = template.format(**values)
            params = {"q": "hi"} if template == "/api/search" else {}
            if where == "query":
                params[name] = bad
            response = admin.request(method, path, params=params, json={"reason": "x"})
            problem = response.json() if response.status_code == 400 else {}
            if response.status_code != 400 or name not in problem.get("detail", ""):
                failures.append((method, template, name, bad, response.status_code))
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize("q", ["\x00", "a\x00b", "\x1b[2J", "\x7f"])
def test_a_search_with_control_characters_is_a_400(admin: httpx.Client, q: str) -> None:
    response = admin.get("/api/search", params={"q": q})
    assert response.status_code == 400, response.text
    assert "control" in response.json()["detail"]


def test_as_of_times_at_the_calendars_ends_and_other_scripts(admin: httpx.Client) -> None:
    path = f"/api/rooms/{FILLER['room_id']}/messages"
    for edge in ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]:
        assert admin.get(path, params={"as_of": edge}).status_code in (200, 404), edge
    bad = admin.get(path, params={"as_of": "\uff12\uff10\uff12\uff16-01-01"})
    assert bad.status_code == 400, bad.text


class _Boom(Exception):
    pass


async def _boom(request: Request) -> Response:
    raise _Boom("a bug")


async def _fine(request: Request) -> Response:
    return Response("fine")


@pytest.fixture
def faulty() -> Iterator[int]:
    """A server whose one route fails, with kiroku's error handler, on a real socket."""
    app = Starlette(
        routes=[Route("/boom", _boom), Route("/fine", _fine)],
        exception_handlers={Exception: handle_error},
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(10)


def _response(conn: socket.socket) -> bytes:
    """One whole response (headers and a Content-Length body), or b"" if the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )  # fmt: skip
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def _exchange(port: int, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` twice on one keep-alive connection; both answers (b"" if closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        first = _response(conn)
        try:
            conn.sendall(request)
            second = _response(conn)
        except OSError:
            second = b""
    return first, second


def test_a_500_closes_the_connection_and_says_so(faulty: int) -> None:
    request = b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n"
    first, rest = _exchange(faulty, request)
    assert first.startswith(b"HTTP/1.1 500")
    assert b"connection: close" in first.lower()
    assert rest == b""  # the server closed it


def test_a_good_answer_keeps_the_connection(faulty: int) -> None:
    first, rest = _exchange(faulty, b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200")
    assert rest.startswith(b"HTTP/1.1 200")
