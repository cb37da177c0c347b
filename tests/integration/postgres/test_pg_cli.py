"""``kiroku db migrate`` and ``kiroku journal copy`` against a real server."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from pgkit import (
    dsn_fixture,  # noqa: F401 - fixtures
    events,
)

from kiroku.cli import main
from kiroku.errors import JournalError
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.postgres.migrate import MIGRATIONS
from kiroku.journal.protocol import ANY, Snapshot
from kiroku.journal.sqlite import SQLiteJournal

pytestmark = pytest.mark.postgres


def _url(dsn: str) -> str:
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


async def _kiroku(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_migrate_creates_the_schema_once(dsn: str) -> None:
    with pytest.raises(JournalError, match="kiroku db migrate"):
        await PostgreSQLJournal.open(dsn, create=False)
    first = await _kiroku("db", "migrate", "--journal", _url(dsn))
    assert first.exit_code == 0, first.output
    assert "applied 1" in first.output
    again = await _kiroku("db", "migrate", "--journal", _url(dsn))
    assert again.exit_code == 0, again.output
    assert f"up to date (version {MIGRATIONS[-1].version})" in again.output
    async with await PostgreSQLJournal.open(dsn, create=False) as journal:
        assert (await journal.append("room-1", 0, events(1))).position == 1


async def test_migrate_names_an_unreachable_server_and_fails() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await _kiroku("db", "migrate", "--journal", f"postgresql://nobody@127.0.0.1:{port}/x")
    assert result.exit_code != 0
    assert f"127.0.0.1:{port}" in result.output
    assert "unreachable" in result.output
    assert "Traceback" not in result.output


async def test_copy_moves_an_embedded_journal_exactly(dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    async with await SQLiteJournal.open(path) as source:
        for i in range(30):
            await source.append(f"room-{i % 4}", ANY, events(3, metadata={"i": i}))
        await source.delete_before("room-0", 5)
        snapshot = Snapshot("room-1", 6, "room.State", 2, b'{"n":6}', datetime.now(UTC), {"k": 1})
        await source.save_snapshot(snapshot)
        expected = await source.read_all(0, 10_000)
        head = await source.head_position()
    result = await _kiroku("journal", "copy", f"sqlite:///{path}", _url(dsn))
    assert result.exit_code == 0, result.output
    assert "copied 86 events" in result.output
    source_sum, target_sum = (line.split("sha256 ")[1] for line in result.output.splitlines()[1:3])
    assert source_sum == target_sum
    async with await PostgreSQLJournal.open(dsn) as target:
        assert await target.read_all(0, 10_000) == expected
        assert await target.stream_version("room-0") == 24
        assert await target.load_snapshot("room-1") == snapshot
        assert (await target.append("room-9", 0, events(1))).position == head + 1
    refused = await _kiroku("journal", "copy", f"sqlite:///{path}", _url(dsn))
    assert refused.exit_code != 0
    assert "not empty" in refused.output
