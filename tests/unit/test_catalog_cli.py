"""``kiroku catalog`` and ``kiroku catalog lint`` through the command line."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from kiroku import Decider, Registry, event
from kiroku.catalog import ProcessManager
from kiroku.cli import main

REG = Registry()


@event("t.cli.Pinged", registry=REG)
@dataclass(frozen=True, slots=True)
class Pinged:
    n: int


@dataclass(frozen=True, slots=True)
class Ping:
    n: int


class Pinger(Decider[int, Ping, Pinged]):
    category = "pinger"
    initial = 0


class Echo(ProcessManager):
    name = "echo"
    handles = (Pinged,)
    sends = (Ping,)


@dataclass(frozen=True, slots=True)
class Bundle:
    registry: Registry
    deciders: tuple[type, ...]
    process_managers: tuple[ProcessManager, ...] = ()


@pytest.fixture
def app_module() -> Iterator[str]:
    module = types.ModuleType("kiroku_test_catalog_app")
    module.loop = Bundle(REG, (Pinger,), (Echo(),))  # type: ignore[attr-defined]
    module.calm = Bundle(REG, (Pinger,))  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module.__name__
    del sys.modules[module.__name__]


def test_a_cyclic_app_fails_naming_the_cycle(app_module: str) -> None:
    result = CliRunner().invoke(main, ["catalog", "--app", f"{app_module}:loop"])
    assert result.exit_code == 1
    assert "Event cycle: pinger -> t.cli.Pinged -> echo sends Ping -> pinger" in result.output


def test_the_travel_catalog_draws_as_json() -> None:
    result = CliRunner().invoke(
        main, ["catalog", "--app", "kiroku.apps.travel:TRAVEL", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    booked = next(e for e in doc["events"] if e["name"] == "travel.ReservationBooked")
    assert booked["emitted_by"] == ["reservation"]
    assert booked["handled_by"] == ["travel.invoices", "travel.payments"]
    assert doc["warnings"] == []


def test_lint_gives_advice_and_never_fails(app_module: str) -> None:
    result = CliRunner().invoke(main, ["catalog", "lint", "--app", f"{app_module}:calm"])
    assert result.exit_code == 0
    assert "no advice" in result.output


def test_a_bad_app_reference_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["catalog", "--app", "no_such_module_xyz:app"])
    assert result.exit_code == 2
    assert "Cannot load the application 'no_such_module_xyz:app'" in result.output
