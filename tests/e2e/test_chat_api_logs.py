"""A real ``kiroku serve`` with ``--log-format json`` (and ``text``): hostile paths
and queries cannot forge or break a line, and no spelling of the token parameter
is logged in clear."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from chat_server import ChatServer

HOSTILE_PATHS = [
    "/api/rooms/x%0a2026-01-01%20INFO%20kiroku.access:%20forged",
    "/api/rooms/x%0d%0aforged",
    "/api/rooms/%1b%5b2J%00%7f",
]
TOKEN_SPELLINGS = ["access_token", "access%5Ftoken", "%61ccess_token", "%61ccess%5ftoken"]


def _raw_get(port: int, target: str) -> bytes:
    """Send the request line as given (no client re-encoding); the answer's first bytes
    (enough for the status line: a live stream never ends by itself)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return conn.recv(65536)


def _drive(server: ChatServer) -> str:
    token = server.add_user("ann", admin=True)
    for path in HOSTILE_PATHS:
        _raw_get(server.port, path)
    for name in TOKEN_SPELLINGS:
        answer = _raw_get(server.port, f"/api/stream?{name}={token}")
        assert answer.startswith(b"HTTP/1.1 200"), answer  # each spelling authenticates
    time.sleep(0.5)  # the listener thread writes behind the requests
    return token


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_hostile_requests_leave_one_escaped_line_each_and_no_token(
    tmp_path: Path, fmt: str
) -> None:
    server = ChatServer.start(tmp_path / "data", extra=("--log-format", fmt))
    try:
        token = _drive(server)
    finally:
        assert server.stop() == 0
    log = server.log()
    assert token not in log
    assert "\x1b" not in log
    assert "\x00" not in log
    lines = log.splitlines()
    assert not [line for line in lines if "forged" in line and "kiroku.access" not in line]
    access = [line for line in lines if "kiroku.access" in line]
    assert len(access) >= len(HOSTILE_PATHS) + len(TOKEN_SPELLINGS)
    if fmt == "json":
        records = [json.loads(line) for line in lines if line.startswith("{")]
        assert {r["logger"] for r in records} >= {"kiroku.access"}
        hits = [r for r in records if r["logger"] == "kiroku.access"]
        assert all({"path", "status", "method", "duration_ms"} <= r.keys() for r in hits)
        assert any("\n" in r["path"] for r in hits)  # kept, as data, inside one line
