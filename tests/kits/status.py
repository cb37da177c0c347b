"""``kiroku status --json`` as the tests read it: run until a condition holds, bounded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kits.processes import run_kiroku

__all__ = ["status", "status_until"]

FAST_BEAT = {"KIROKU_HEARTBEAT_INTERVAL": "0.2"}
"""Processes beat every 0.2 s, so one is reported dead a second after it stops."""


def status(*args: str) -> tuple[int, dict[str, Any]]:
    done = run_kiroku("status", "--json", *args)
    assert done.stdout, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report


def status_until(
    args: tuple[str, ...], done: Callable[[int, dict[str, Any]], bool], seconds: float = 30
) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while True:
        code, report = status(*args)
        if done(code, report):
            return code, report
        assert time.monotonic() < deadline, report
        time.sleep(0.2)


def states(report: dict[str, Any]) -> dict[str, str]:
    """Each process's state by its roles (``"projector"``: ``"alive"``)."""
    return {",".join(n["roles"]): n["state"] for n in report["nodes"]}
