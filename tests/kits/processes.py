"""``kiroku`` commands as real processes, for tests across process boundaries: start
one, wait for a line in its log, stop it with any signal, run a command to its end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["Proc", "kiroku_command", "run_benchmark", "run_kiroku", "start_projector"]

LISTENING = r"kiroku: listening on http://127\.0\.0\.1:(\d+)"


def kiroku_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from kiroku.cli import main; main()", *args]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIROKU_")}
    return {**env, "PYTHONUNBUFFERED": "1", **(extra or {})}


def run_kiroku(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``kiroku ARGS`` to its end; its output and exit status."""
    return subprocess.run(
        kiroku_command(*args), capture_output=True, text=True, env=_env(), timeout=timeout
    )


def run_benchmark(
    module: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m benchmarks.MODULE ARGS`` from the repository's root, to its end; fails
    the test with the end of its error output unless it exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def start_projector(data: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    """``kiroku serve --role projector ARGS`` on ``data``, returned once it says it runs,
    with its log (beside ``data``)."""
    data.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"projector-{time.monotonic_ns()}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            kiroku_command("--data", str(data), "serve", "--role", "projector", *args),
            stdout=out, stderr=subprocess.STDOUT, env=_env(),
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while "kiroku: roles projector" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"projector did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return proc, log


class Proc:
    """One ``kiroku`` process, its output in a log file beside ``where``."""

    def __init__(
        self, where: Path, name: str, *args: str, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.log = where / f"{name}-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                kiroku_command(*args), stdout=out, stderr=subprocess.STDOUT, env=_env(env)
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.text())) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not show {pattern!r}:\n{self.text()}")
            time.sleep(0.05)
        return found

    def url(self) -> str:
        """The base URL of a serving process, once it listens."""
        return f"http://127.0.0.1:{self.wait_for(LISTENING).group(1)}"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(30)


@pytest.fixture(name="procs")
def procs_fixture() -> Iterator[list[Proc]]:
    """Processes a test starts; whatever is still running at the end is SIGKILLed."""
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop(signal.SIGKILL)
