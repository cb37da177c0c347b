"""A real ``kiroku serve`` against hostile clients, over real sockets: half-sent and
silent connections are closed after the header timeout, idle keep-alive ones after
theirs, connections past the cap, streams past the per-user and total caps and a
user's requests past the in-flight cap are refused with Retry-After, a body that
never ends is answered 408 and closed; and the server runs on uvloop with httptools."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from chat_server import ChatServer

TIMEOUTS = ("--header-timeout", "1", "--keep-alive-timeout", "1")
CAPS = ("--max-connections", "8", "--max-streams", "4", "--max-streams-per-user", "2")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(tmp_path_factory.mktemp("limits") / "data", extra=TIMEOUTS)
    yield running
    running.stop()


def _closed_within(conn: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``conn`` within ``seconds``, and what it sent before."""
    conn.settimeout(seconds)
    got = b""
    try:
        while chunk := conn.recv(65536):
            got += chunk
    except TimeoutError:
        return False, got
    return True, got


def test_it_runs_on_uvloop_with_httptools(server: ChatServer) -> None:
    log = server.wait_for_log("HTTP protocol")
    assert "event loop uvloop" in log
    assert "HTTP protocol HttpToolsProtocol" in log


@pytest.mark.parametrize(
    "sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"GET /heal"], ids=repr
)
def test_a_request_whose_headers_never_end_is_closed(server: ChatServer, sent: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(sent)
        closed, got = _closed_within(conn, 5)
    assert closed
    assert got.startswith(b"HTTP/1.1 408") or got == b""


def test_trickling_headers_does_not_extend_the_timeout(server: ChatServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\n")
        start = time.monotonic()
        try:
            for i in range(10):
                conn.sendall(f"X-{i}: y\r\n".encode())
                time.sleep(0.3)
        except OSError:
            pass
        closed, _ = _closed_within(conn, 5)
    assert closed
    assert time.monotonic() - start < 4


def test_an_idle_keep_alive_connection_is_closed(server: ChatServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.settimeout(5)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        closed, _ = _closed_within(conn, 5)
    assert closed


def test_a_slow_but_complete_client_is_served(server: ChatServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            conn.sendall(part)
            time.sleep(0.2)
        conn.settimeout(5)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(tmp_path_factory.mktemp("capped") / "data", extra=CAPS)
    yield running
    running.stop()


def test_connections_past_the_cap_are_refused_with_retry_after(capped: ChatServer) -> None:
    with ExitStack() as held:
        for _ in range(8):
            held.enter_context(socket.create_connection(("127.0.0.1", capped.port)))
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", capped.port)) as extra:
            closed, got = _closed_within(extra, 5)
    assert closed
    assert got.startswith(b"HTTP/1.1 503")
    assert b"Retry-After: " in got
    assert httpx.get(capped.base_url + "/healthz").status_code == 200  # and it recovers


def test_streams_past_the_caps_are_refused_with_retry_after(capped: ChatServer) -> None:
    ann, bob, cy = (capped.add_user(n) for n in ("ann", "bob", "cy"))

    def stream(token: str) -> httpx.Response:
        return held.enter_context(
            client.stream("GET", "/api/stream", headers={"Authorization": f"Bearer {token}"})
        )

    with ExitStack() as held, httpx.Client(base_url=capped.base_url, timeout=10) as client:
        assert [stream(ann).status_code for _ in range(2)] == [200, 200]
        third = stream(ann)
        assert third.status_code == 429
        assert "retry-after" in third.headers
        assert [stream(bob).status_code for _ in range(2)] == [200, 200]
        full = stream(cy)
        assert full.status_code == 503
        assert "retry-after" in full.headers
    with httpx.Client(base_url=capped.base_url, timeout=10) as client, ExitStack() as held:
        assert stream(cy).status_code == 200  # closed streams are counted out


SLOW = ("--max-requests-per-user", "3", "--body-timeout", "4")


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(tmp_path_factory.mktemp("slow") / "data", extra=SLOW)
    yield running
    running.stop()


def _half_a_body(server: ChatServer, token: str) -> socket.socket:
    """A POST whose headers are whole and whose body stops half-way: it stays in flight."""
    conn = socket.create_connection(("127.0.0.1", server.port))
    conn.sendall(
        b"POST /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 40\r\n\r\n"
        b'{"name": "ha'
    )
    return conn


def test_a_user_past_the_requests_in_flight_cap_is_refused_alone(slow: ChatServer) -> None:
    ann, bob = slow.add_user("ann"), slow.add_user("bob")
    ann_h, bob_h = ({"Authorization": f"Bearer {t}"} for t in (ann, bob))
    with ExitStack() as held, httpx.Client(base_url=slow.base_url, timeout=10) as client:
        for _ in range(3):
            held.enter_context(_half_a_body(slow, ann))
        time.sleep(0.5)  # the three are in the app, each waiting for its body
        refused = client.get("/api/rooms", headers=ann_h)
        assert refused.status_code == 429
        assert "retry-after" in refused.headers
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "3 requests in flight" in refused.json()["detail"]
        assert client.get("/api/rooms", headers=bob_h).status_code == 200  # others unaffected
        assert client.get("/api/rooms").status_code == 401  # not counted as anyone's
        with client.stream("GET", "/api/stream", headers=ann_h) as stream:
            assert stream.status_code == 200  # streams have their own cap
    # the held requests ended (their sockets closed): ann is counted out
    deadline = time.monotonic() + 10
    while (status := httpx.get(slow.base_url + "/api/rooms", headers=ann_h).status_code) == 429:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status == 200
    assert "Traceback" not in slow.log()  # a client hanging up mid-body is not a fault


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_that_never_ends_is_answered_408_and_closed(slow: ChatServer, chunked: bool) -> None:
    token = slow.add_user(f"slowpoke{int(chunked)}")
    framing = (
        b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"nam'
        if chunked
        else b'Content-Length: 40\r\n\r\n{"nam'
    )
    with socket.create_connection(("127.0.0.1", slow.port)) as conn:
        conn.sendall(
            b"POST /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n" + framing
        )
        start = time.monotonic()
        closed, got = _closed_within(conn, 15)
    assert closed
    assert got.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within 4 s" in got
    assert time.monotonic() - start > 3  # the timeout, not some earlier refusal


def test_a_slow_but_complete_body_is_served(slow: ChatServer) -> None:
    token = slow.add_user("patient")
    body = b'{"name": "slow but sure"}'
    with socket.create_connection(("127.0.0.1", slow.port)) as conn:
        conn.sendall(
            b"POST /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer "
            + token.encode()
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        for i in range(0, len(body), 8):
            conn.sendall(body[i : i + 8])
            time.sleep(0.2)
        conn.settimeout(5)
        assert conn.recv(65536).startswith(b"HTTP/1.1 201")
