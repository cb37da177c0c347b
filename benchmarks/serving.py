"""A ``kiroku serve`` process for the HTTP benchmarks, and the helpers they all report with.

One copy of starting the server and reading its ready line, so the fan-out and
HTTP load benchmarks measure a server started the same way.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["READY", "auth", "pct", "serve_command", "start_server"]

READY = re.compile(r"kiroku: listening on http://127\.0\.0\.1:(\d+)")
"""The line ``kiroku serve`` logs once it listens, with its port."""


def serve_command(data: Path, *args: str) -> list[str]:
    """``kiroku --data DATA serve`` on a free port, warnings only, then ``args``."""
    cli = [sys.executable, "-c", "from kiroku.cli import main; main()", "--data", str(data)]
    return [*cli, "serve", "--port", "0", "--log-level", "warning", *args]


def start_server(data: Path, cmd: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``kiroku serve`` on ``data`` (or ``cmd``, which prints the same ready line), with
    its base URL once it listens; its log is ``server.log`` beside ``data``."""
    log = data.parent / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd or serve_command(data), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = READY.search(log.read_text(errors="replace"))
        if found:
            return proc, f"http://127.0.0.1:{found.group(1)}"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"kiroku serve did not start:\n{log.read_text()}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
