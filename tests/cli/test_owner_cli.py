"""One owner of a data directory's projections: a server, or one command moving them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_projections_cli import checkpoint, fill, kiroku

from kiroku import DataDirectoryBusyError
from kiroku.cli.owner import owning


def refused(data: Path, hint: str = "") -> DataDirectoryBusyError:
    """The refusal met by a second would-be owner of ``data``."""
    with pytest.raises(DataDirectoryBusyError) as caught, owning(data, "kiroku rebuild x", hint):
        pass  # pragma: no cover - never entered
    return caught.value


def test_a_second_owner_is_refused_with_who_owns_it(tmp_path: Path) -> None:
    with owning(tmp_path, "kiroku serve"):
        error = refused(tmp_path, "try later")
    assert str(error) == (f"{tmp_path} is in use by kiroku serve (pid {os.getpid()}); try later")
    with owning(tmp_path, "kiroku rebuild x"):  # released on leaving the block
        pass


def test_an_owner_that_dies_leaves_nothing_locked(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from kiroku.cli.owner import owning\n"
        "with owning(Path(sys.argv[1]), 'kiroku serve'):\n"
        "    print('owned', flush=True)\n"
        "    time.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == "owned\n"
        assert refused(tmp_path).holder == f"kiroku serve (pid {child.pid})"
        child.send_signal(signal.SIGKILL)
        child.wait()
    with owning(tmp_path, "kiroku rebuild x"):
        pass


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("rebuild", "cli.boards"), "POST /api/admin/projections/cli.boards/rebuild"),
        (("replay", "cli.boards", "--from", "1"), "POST /api/admin/projections/cli.boards/replay"),
        (("parked", "retry", "cli.picky:1"), "POST /api/admin/parked/cli.picky/1/retry"),
    ],
)
def test_commands_that_move_projections_refuse_beside_a_server(
    tmp_path: Path, args: tuple[str, ...], hint: str
) -> None:
    data = fill(tmp_path)
    kiroku(data, "replay", "cli.boards", "--from", "1")
    with owning(data, "kiroku serve"):
        refused = kiroku(data, *args, ok=False)
    assert "is in use by kiroku serve" in refused.stderr
    assert hint in refused.stderr
    assert "Traceback" not in refused.stderr
    assert checkpoint(data, "cli.boards") == 6
    assert not (data / "read" / "cli.boards.g2.db").exists()  # no rebuild was begun


def test_reading_commands_run_beside_a_server(tmp_path: Path) -> None:
    data = fill(tmp_path)
    with owning(data, "kiroku serve"):
        assert "cli.boards" in kiroku(data, "projections").stdout
        kiroku(data, "parked")
        kiroku(data, "ledger", "1")


def test_a_second_server_on_one_data_directory_is_refused(tmp_path: Path) -> None:
    with owning(tmp_path, "kiroku rebuild cli.boards"):
        refused = kiroku(tmp_path, "serve", "--port", "0", ok=False)
    assert f"{tmp_path} is in use by kiroku rebuild cli.boards" in refused.stderr
    assert "Traceback" not in refused.stderr
