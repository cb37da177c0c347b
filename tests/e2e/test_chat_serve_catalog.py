"""``kiroku serve`` checks the app's event catalog before it starts: an app whose
aggregates depend on each other in a loop is refused, the loop named, exit non-zero,
and no journal is opened."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CYCLIC_APP = """
from collections.abc import Sequence
from dataclasses import dataclass

from kiroku import App, Decider, Registry, event

REG = Registry()


@event("cyclic.alpha.Done", registry=REG)
@dataclass(frozen=True, slots=True)
class AlphaDone:
    alpha_id: str


@event("cyclic.beta.Done", registry=REG)
@dataclass(frozen=True, slots=True)
class BetaDone:
    beta_id: str


@dataclass(frozen=True, slots=True)
class Finish:
    target: str


class Alpha(Decider[int, Finish, AlphaDone]):
    category = "alpha"
    initial = 0
    depends_on = ("beta",)

    def decide(self, command: Finish, state: int) -> Sequence[AlphaDone]:
        return [AlphaDone(command.target)]

    def evolve(self, state: int, event: AlphaDone) -> int:
        return state + 1


class Beta(Decider[int, Finish, BetaDone]):
    category = "beta"
    initial = 0
    depends_on = ("alpha",)

    def decide(self, command: Finish, state: int) -> Sequence[BetaDone]:
        return [BetaDone(command.target)]

    def evolve(self, state: int, event: BetaDone) -> int:
        return state + 1


app = App("cyclic", REG, deciders=[Alpha(), Beta()])
"""


def test_serve_refuses_an_app_whose_event_flows_loop(tmp_path: Path) -> None:
    (tmp_path / "cyclic_app.py").write_text(CYCLIC_APP)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("KIROKU_DATA", None)
    data = tmp_path / "data"
    done = subprocess.run(
        [
            sys.executable, "-c", "from kiroku.cli import main; main()", "--data", str(data),
            "serve", "--port", "0", "--app", "cyclic_app:app",
        ],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "alpha" in output
    assert "beta" in output
    assert "declared depends_on" in output
    assert "listening on" not in output
    assert not (data / "journal.db").exists()
