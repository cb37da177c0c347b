"""``kiroku status`` on one machine: processes sharing a data directory beat into it;
status lists each with its position and lag, says dead for one killed, and fails."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from kits.processes import (
    Proc,
    procs_fixture,  # noqa: F401 - a fixture
)
from kits.status import FAST_BEAT, states, status, status_until

pytestmark = pytest.mark.slow


def test_status_lists_each_process_and_says_dead_for_a_killed_one(
    tmp_path: Path, procs: list[Proc]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    web = Proc(tmp_path, "web", "--data", str(data), "serve", "--port", "0",
               "--role", "write,read", env=FAST_BEAT)  # fmt: skip
    projector = Proc(tmp_path, "projector", "--data", str(data), "serve", "--role", "projector",
                     env=FAST_BEAT)  # fmt: skip
    procs += [web, projector]
    web.url()
    projector.wait_for("roles projector")
    where = ("--data", str(data))
    code, report = status_until(where, lambda c, r: len(r["nodes"]) == 2)
    assert code == 0, report
    assert states(report) == {"read,write": "alive", "projector": "alive"}
    assert report["head"] == 0
    node = next(n for n in report["nodes"] if n["roles"] == ["projector"])
    assert node["pid"] == projector.pid
    assert node["lag"] == 0
    assert set(node["positions"]) >= {"journal", "projection:chat.history"}

    projector.stop(signal.SIGKILL)
    code, report = status_until(where, lambda c, r: "dead" in states(r).values())
    assert code == 1
    assert states(report) == {"read,write": "alive", "projector": "dead"}
    assert any("is dead" in p for p in report["problems"])

    code, _ = status(*where, "--forget-dead")
    assert code == 1  # shown once more, then forgotten
    code, report = status(*where)
    assert code == 0, report
    assert states(report) == {"read,write": "alive"}
    assert web.stop() == 0  # a graceful stop withdraws its beat: stopped is not dead
    code, report = status(*where)
    assert (code, report["nodes"]) == (0, [])


def test_status_without_a_journal_fails_and_says_where(tmp_path: Path) -> None:
    code, report = status("--data", str(tmp_path / "none"))
    assert code == 1
    assert "no journal" in report["error"]
