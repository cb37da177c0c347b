"""A journal belongs to one app: commands of another app refuse to write it."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiroku.cli import main
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.journal.sqlite.ownership import JournalOwnedError, claim_journal, journal_app

sys.path.insert(0, str(Path(__file__).parent))


def _open_and_close(path: Path) -> None:
    async def go() -> None:
        await (await SQLiteJournal.open(path)).close()

    asyncio.run(go())


def test_the_first_claim_records_the_app_and_others_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    _open_and_close(path)
    assert journal_app(path) is None
    claim_journal(path, "chat")
    claim_journal(path, "chat")  # the owner again: fine
    assert journal_app(path) == "chat"
    with pytest.raises(JournalOwnedError, match="belongs to the app 'chat', not 'bank'"):
        claim_journal(path, "bank")
    rows = sqlite3.connect(path).execute("SELECT name FROM kiroku_app").fetchall()
    assert rows == [("chat",)]
    _open_and_close(path)  # the journal still opens with the record in it


def test_demo_uses_its_own_journal_and_schema_check_still_passes(tmp_path: Path) -> None:
    runner = CliRunner()
    _open_and_close(tmp_path / "journal.db")
    claim_journal(tmp_path / "journal.db", "chat")
    done = runner.invoke(main, ["--data", str(tmp_path), "demo", "--rooms", "2"])
    assert done.exit_code == 0, done.output
    assert journal_app(tmp_path / "demo" / "journal.db") == "kiroku.demo"
    checked = runner.invoke(main, ["--data", str(tmp_path), "schema", "check"])
    assert checked.exit_code == 0, checked.output


def test_the_demo_refuses_a_journal_of_another_app(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    _open_and_close(tmp_path / "demo" / "journal.db")
    claim_journal(tmp_path / "demo" / "journal.db", "chat")
    done = CliRunner().invoke(main, ["--data", str(tmp_path), "demo", "--rooms", "2"])
    assert done.exit_code == 1
    assert "belongs to the app 'chat', not 'kiroku.demo'" in done.output


def test_serve_with_another_app_refuses_the_chat_journal(tmp_path: Path) -> None:
    _open_and_close(tmp_path / "journal.db")
    claim_journal(tmp_path / "journal.db", "chat")
    args = ["--data", str(tmp_path), "serve", "--app", "cli_app:app", "--port", "0"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 1
    assert "belongs to the app 'chat', not 'cli-test'" in done.output


def test_retract_with_another_app_appends_nothing(tmp_path: Path) -> None:
    _open_and_close(tmp_path / "journal.db")
    claim_journal(tmp_path / "journal.db", "chat")
    args = ["--data", str(tmp_path), "retract", "1", "--reason", "x", "--app", "cli_app:app"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 1
    assert "belongs to the app 'chat'" in done.output
