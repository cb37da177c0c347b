"""A real ``kiroku serve`` against hostile clients, over real sockets: half-sent and
silent connections are closed after the header timeout, idle keep-alive ones after
theirs, connections past the cap and streams past the per-user and total caps are
refused with Retry-After; and the server runs on uvloop with httptools."""

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
    assert "event loop uvloop" in server.log()
    assert "HTTP protocol HttpToolsProtocol" in server.log()


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
