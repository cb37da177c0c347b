"""Arguments and settings are checked before anything is locked, suggested or ignored."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiroku import Codec
from kiroku.cli import main
from kiroku.cli.app import hoist_shared_options
from kiroku.cli.owner import owning
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal

sys.path.insert(0, str(Path(__file__).parent))
from cli_app import REGISTRY, Noted, Opened


def _invoke(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(main, list(args), env={"KIROKU_APP": "cli_app:app"})
    return done.exit_code, done.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("replay", "cli.nope", "--from", "5"), "No projection named 'cli.nope'"),
        (("rebuild", "cli.nope"), "No projection named 'cli.nope'"),
        (("parked", "retry", "cli.boards"), "A parked event is named NAME:ID"),
        (("parked", "skip", "cli.nope:3", "--reason", "x"), "No projection named 'cli.nope'"),
    ],
)
def test_bad_arguments_are_refused_before_the_lock_and_its_advice(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    with owning(tmp_path, "kiroku serve"):  # a server owns the directory
        code, output = _invoke("--data", str(tmp_path), *args)
    assert code == 2, output
    assert message in output
    assert "POST" not in output
    assert "kiroku serve" not in output


def test_the_shared_options_may_follow_the_command(tmp_path: Path) -> None:
    code, output = _invoke("users", "add", "bob", "--data", str(tmp_path / "after"))
    assert code == 0, output
    assert (tmp_path / "after").is_dir()
    code, output = _invoke("users", "list", f"--data={tmp_path / 'after'}")
    assert code == 0, output
    assert "bob" in output


def test_hoisting_leaves_values_after_a_double_dash() -> None:
    hoisted = hoist_shared_options(["--config", "c.toml", "events", "--data", "d", "--", "--data"])
    assert hoisted == ["--config", "c.toml", "--data", "d", "events", "--", "--data"]


def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    code, output = _invoke("--data", str(tmp_path), "serve", "--port", "99999")
    assert code == 2
    assert "99999 is not in the range 0<=x<=65535" in output


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[serve]\nprot = 8080\n", "Unknown setting 'prot' in [serve]"),
        ("dta = 'x'\n", "Unknown setting 'dta' in the top level"),
        ("[srve]\nport = 1\n", "Unknown setting 'srve' in the top level"),
    ],
)
def test_an_unknown_setting_names_the_key_and_the_known_ones(
    tmp_path: Path, toml: str, message: str
) -> None:
    config = tmp_path / "k.toml"
    config.write_text(toml)
    code, output = _invoke("--config", str(config), "users", "list")
    assert code == 2
    assert message in output
    assert ("port" in output and "host" in output) or ("[serve]" in output and "data" in output)


def test_settings_spelt_as_on_the_command_line_reach_the_command(tmp_path: Path) -> None:
    config = tmp_path / "k.toml"
    config.write_text("[events]\nlimit = 1\n")
    asyncio.run(_fill(tmp_path))
    done = CliRunner().invoke(main, ["--config", str(config), "--data", str(tmp_path), "events"])
    assert done.exit_code == 0, done.output
    assert len(done.stdout.splitlines()) == 1
    assert "stopped at the limit of 1 events" in done.stderr


async def _fill(data: Path) -> None:
    journal = await SQLiteJournal.open(data / "journal.db")
    await journal.append("board-1", ANY, Codec(REGISTRY).encode_all([Opened("a"), Noted("x")]))
    await journal.close()


def test_events_says_when_it_stops_at_its_limit(tmp_path: Path) -> None:
    asyncio.run(_fill(tmp_path))
    runner = CliRunner()
    done = runner.invoke(main, ["--data", str(tmp_path), "events", "--limit", "1"])
    assert done.stdout.startswith("1\t")
    assert len(done.stdout.splitlines()) == 1
    assert "pass --after 1 for the next ones" in done.stderr
    done = runner.invoke(main, ["--data", str(tmp_path), "events", "--limit", "2"])
    assert len(done.stdout.splitlines()) == 2
    assert done.stderr == ""
