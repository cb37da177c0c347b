"""``kiroku demo`` runs the write side on a real SQLite file and narrates it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kiroku.cli import main


def test_the_demo_runs_twice_on_the_same_data_directory(tmp_path: Path) -> None:
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(main, ["--data", str(tmp_path), "demo", "--rooms", "5"])
        assert result.exit_code == 0, result.output
        assert "rejected: cannot post 'anyone here?': the room is not open" in result.output
        assert "duplicate=True, still v3" in result.output
        assert "concurrent: 5 rooms, 25 events" in result.output
        assert "recovered 'Lobby' with ('ann: hello', 'bob: hi ann')" in result.output
    assert (tmp_path / "demo" / "journal.db").exists()
    assert not (tmp_path / "journal.db").exists()
    assert "up to position 56" in result.output  # 28 events per run, nothing lost or doubled
