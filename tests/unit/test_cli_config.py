"""Settings precedence: flags over KIROKU_* variables over the TOML file over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kiroku.cli import main


def _users(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(main, [*args, "users", "add", "ann", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_toml_file_sets_the_data_directory(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(f'data = "{tmp_path / "from-toml"}"\n')
    _users(CliRunner(), "--config", str(config))
    assert (tmp_path / "from-toml").is_dir()


def test_a_flag_beats_the_environment_and_the_file(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(f'data = "{tmp_path / "from-toml"}"\n')
    env = {"KIROKU_DATA": str(tmp_path / "from-env")}
    _users(CliRunner(), "--config", str(config), "--data", str(tmp_path / "from-flag"), env=env)
    assert (tmp_path / "from-flag").is_dir()
    assert not (tmp_path / "from-env").exists()
    assert not (tmp_path / "from-toml").exists()


def test_the_environment_beats_the_file(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(f'data = "{tmp_path / "from-toml"}"\n')
    _users(CliRunner(), "--config", str(config), env={"KIROKU_DATA": str(tmp_path / "from-env")})
    assert (tmp_path / "from-env").is_dir()
    assert not (tmp_path / "from-toml").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [("data = [", "is not valid TOML"), (None, "Cannot read the configuration file")],
)
def test_a_bad_configuration_file_is_a_clear_usage_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    config = tmp_path / "settings.toml"
    if content is not None:
        config.write_text(content)
    result = CliRunner().invoke(main, ["--config", str(config), "users", "list"])
    assert result.exit_code == 2
    assert message in result.output
