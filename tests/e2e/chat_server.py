"""Run ``kiroku serve`` as a real subprocess for end-to-end tests (HTTP and browser).

The server binds port 0 and the helper reads the port it got from the log, so
there is no window in which another process can take a port chosen in advance.
Its output goes to a log file beside the data directory, kept for the test's
artifacts. Interface (kept stable for other suites):

    server = ChatServer.start(tmp_path / "data", demo=False)
    token = server.add_user("ann", admin=True)
    server.base_url            # http://127.0.0.1:PORT
    server.stop()              # SIGTERM, wait, return the exit code
    server.kill()              # SIGKILL
    server = server.restart()  # same data directory, new process (and port)
    server.log()               # everything it printed
    server.wait_for_log(text)  # the log once it holds text (lines logged from a queue)
    server.append_poison()     # a message event no projection can decode; its position
    children(server.process.pid)  # its live child processes (the projector's)
    alive(pid)                 # whether a process runs (not gone, not a zombie)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiroku import NewEvent
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal

__all__ = ["ChatServer", "ServerStartError", "alive", "bearer", "children", "server_fixture"]

_READY = re.compile(r"kiroku: listening on http://127\.0\.0\.1:(\d+)")
_START_TIMEOUT = 30.0


class ServerStartError(RuntimeError):
    pass


def _kiroku(*args: str) -> list[str]:
    return [sys.executable, "-c", "from kiroku.cli import main; main()", *args]


@dataclass
class ChatServer:
    data_dir: Path
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    demo: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *,
        demo: bool = False,
        extra: tuple[str, ...] = (),
        cwd: Path | None = None,
    ) -> ChatServer:
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = data_dir.parent / f"{data_dir.name}-server-{time.monotonic_ns()}.log"
        args = ["--data", str(data_dir), "serve", "--port", "0", *extra]
        if demo:
            args.append("--demo")
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                _kiroku(*args), stdout=out, stderr=subprocess.STDOUT, env=_env(), cwd=cwd
            )
        port = _wait_for_port(process, log_path)
        return cls(data_dir, process, port, log_path, demo)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """The log, once ``text`` is in it: the server writes its log records from a
        queue, off the event loop, so one may follow a line printed after it."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return log

    def demo_tokens(self) -> dict[str, str]:
        """Under ``demo=True``: the demo users' tokens by name, as the server printed them."""
        found = re.findall(r"demo user (\w+)(?: \(admin\))?: (\S+)", self.log())
        return dict(found)

    def add_user(self, name: str, *, admin: bool = False, journal: str | None = None) -> str:
        """``kiroku users add`` on the running server's data directory (or, given a
        PostgreSQL ``journal``, in that shared database); returns the token."""
        args = ["--data", str(self.data_dir), "users", "add", name, "--json"]
        if journal is not None:
            args += ["--journal", journal]
        if admin:
            args.append("--admin")
        done = subprocess.run(_kiroku(*args), capture_output=True, check=True, env=_env())
        token: str = json.loads(done.stdout)["token"]
        return token

    def append_poison(self) -> int:
        """Append, as another process would, a message whose body is not a string:
        every projection handling messages parks it. Returns its position."""

        async def append() -> int:
            journal = await SQLiteJournal.open(self.data_dir / "journal.db")
            try:
                bad = NewEvent("chat.MessagePosted", 1, b'{"room_id": "poison", "body": 42}')
                return (await journal.append("room-poison", ANY, [bad])).first_position
            finally:
                await journal.close()

        # its own thread: the caller may be inside an event loop (Playwright's, pytest-asyncio's)
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(lambda: asyncio.run(append())).result()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful) and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def restart(self) -> ChatServer:
        if self.process.poll() is None:
            self.stop()
        return ChatServer.start(self.data_dir, demo=self.demo)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("KIROKU_DATA", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for_port(process: subprocess.Popen[bytes], log_path: Path) -> int:
    """Read the log until the server says where it listens (it prints once it accepts)."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        found = _READY.search(log_path.read_text(errors="replace"))
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            raise ServerStartError(
                f"kiroku serve exited with {process.returncode}:\n{log_path.read_text()}"
            )
        time.sleep(0.05)
    process.kill()
    raise ServerStartError(
        f"kiroku serve did not start in {_START_TIMEOUT}s:\n{log_path.read_text()}"
    )


def server_fixture(label: str) -> object:
    """A test module's ``server`` fixture: one chat server over a fresh data
    directory for the whole module, which must exit cleanly at the end."""

    @pytest.fixture(scope="module", name="server")
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
        running = ChatServer.start(tmp_path_factory.mktemp(label) / "data")
        yield running
        assert running.stop() == 0, running.log()

    return server


def bearer(token: str) -> dict[str, str]:
    """The headers that present ``token``."""
    return {"Authorization": f"Bearer {token}"}


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (for ``kiroku serve``: its projector)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return stat[0] != "Z"
