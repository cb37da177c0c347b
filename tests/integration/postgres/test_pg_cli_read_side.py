"""The read-side commands on a PostgreSQL journal and PostgreSQL read stores, beside
a projector process that shares no directory with them: ``projections``,
``ledger`` and ``parked`` read while it runs; ``parked skip`` and ``rebuild`` are
refused while it holds the projections' locks and work once it has stopped; a
second projector is refused too; an unreachable database is one clear line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from kits.processes import start_projector
from pgkit import dsn_fixture
from psycopg.conninfo import conninfo_to_dict

from kiroku import Codec
from kiroku.apps.chat.events import REGISTRY, MessagePosted, RoomCreated
from kiroku.domain.envelope import NewEvent
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.protocol import ANY

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["dsn_fixture"]

KIROKU = [sys.executable, "-c", "from kiroku.cli import main; main()"]


def _url(dsn: str) -> str:
    parts = conninfo_to_dict(dsn)
    host, port = parts.get("host", "127.0.0.1"), parts.get("port", 5432)
    return f"postgresql://{parts.get('user', 'postgres')}@{host}:{port}/{parts['dbname']}"


async def _post(dsn: str) -> None:
    """A room, three messages, a message whose body is not a string, one more."""
    codec = Codec(REGISTRY)
    posted = [MessagePosted("r1", f"m{i}", "ann", f"hello {i}") for i in range(3)]
    async with await PostgreSQLJournal.open(dsn) as journal:
        await journal.append(
            "room-r1", ANY, codec.encode_all([RoomCreated("r1", "one", "ann", ("ann",)), *posted])
        )
        bad = NewEvent("chat.MessagePosted", 1, b'{"room_id": "r1", "body": 42}')
        await journal.append("room-r1", ANY, [bad])
        await journal.append(
            "room-r1", ANY, codec.encode_all([MessagePosted("r1", "m9", "ann", "after")])
        )


def _kiroku(data: Path, url: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIROKU_JOURNAL": url, "KIROKU_READ_STORE": url, "COLUMNS": "200"}
    done = subprocess.run(
        [*KIROKU, "--data", str(data), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*KIROKU, *args], env=env, capture_output=True, text=True, timeout=60)


def _rows(out: str) -> dict[str, list[str]]:
    """``kiroku projections``' table: name -> state, position, head, lag, lag (s), parked."""
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines()]
    return {row[0]: row[1:] for row in cells if row and row[0].startswith("chat.")}


def _settled(cli: Path, url: str) -> dict[str, list[str]]:
    """``kiroku projections`` once every projection is past or stopped at the poison."""
    deadline = time.monotonic() + 60
    while True:
        rows = _rows(_kiroku(cli, url, "projections").stdout)
        stopped = all(rows[n][5] == "1" for n in ("chat.timeline", "chat.rooms", "chat.history"))
        if stopped and rows["chat.search"][1] == "6":
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.3)


async def test_commands_read_beside_a_projector_and_move_projections_only_without_it(
    dsn: str, tmp_path: Path
) -> None:
    url = _url(dsn)
    await _post(dsn)
    projector, log = start_projector(tmp_path / "projector", "--journal", url, "--read-store", url)
    cli = tmp_path / "cli"  # the commands share no directory with the projector
    try:
        rows = await asyncio.to_thread(_settled, cli, url)
        assert rows["chat.search"][:5] == ["caught up", "6", "6", "0", "0.0"]
        assert rows["chat.timeline"][:3] == ["failed", "4", "6"]  # stops at the poison
        parked = _kiroku(cli, url, "parked", "chat.timeline").stdout
        ref = next(w for w in parked.split() if w.startswith("chat.timeline:"))
        assert "room-r1@5 chat.MessagePosted" in parked
        ledger = _kiroku(cli, url, "ledger", "5").stdout
        assert "parked" in next(x for x in ledger.splitlines() if "chat.timeline" in x)
        assert "held behind" in _kiroku(cli, url, "parked", "chat.search").stdout
        applied = _kiroku(cli, url, "ledger", "2").stdout
        assert sum(" applied " in x for x in applied.splitlines()) == 4, applied
        refused = _kiroku(cli, url, "parked", "skip", ref, "--reason", "bad body", ok=False)
        assert "kiroku serve --role projector" in refused.stderr
        assert f"/api/admin/parked/chat.timeline/{ref.split(':')[1]}/skip" in refused.stderr
        refused = _kiroku(cli, url, "rebuild", "chat.rooms", ok=False)
        assert "/api/admin/projections/chat.rooms/rebuild" in refused.stderr
        second, second_log = _projector_refused(tmp_path / "second", url)
        assert second != 0
        assert "in use by kiroku serve --role projector" in second_log
    finally:
        projector.terminate()
        assert projector.wait(30) == 0, log.read_text()
    _kiroku(cli, url, "parked", "skip", ref, "--reason", "bad body")
    skipped = _kiroku(cli, url, "ledger", "5").stdout
    assert "bad body" in next(x for x in skipped.splitlines() if "chat.timeline" in x)
    rebuilt = _kiroku(cli, url, "rebuild", "chat.timeline").stdout
    assert "chat.timeline: rebuilt to position 6 and swapped" in rebuilt
    assert await _schemas(dsn, "chat_timeline") == [
        "kiroku_rs_chat_timeline_g1",
        "kiroku_rs_chat_timeline_g2",
    ]
    rows = _rows(_kiroku(cli, url, "projections").stdout)
    assert rows["chat.timeline"][:3] == ["caught up", "6", "6"]
    assert "0 parked events" in _kiroku(cli, url, "parked", "chat.timeline").stdout


def _projector_refused(data: Path, url: str) -> tuple[int, str]:
    data.mkdir(parents=True)
    done = subprocess.run(
        [*KIROKU, "--data", str(data), "serve", "--role", "projector",
         "--journal", url, "--read-store", url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


async def _schemas(dsn: str, name: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY 1",
            (f"kiroku_rs_{name}_g%",),
        )
        return [str(r[0]) for r in await cur.fetchall()]


async def test_the_settings_file_names_the_stores_and_an_unreachable_one_is_one_line(
    dsn: str, tmp_path: Path
) -> None:
    url = _url(dsn)
    await _post(dsn)
    settings = tmp_path / "kiroku.toml"
    settings.write_text(f'[projections]\njournal = "{url}"\nread-store = "{url}"\n')
    done = _command("--config", str(settings), "--data", str(tmp_path / "d"), "projections")
    assert done.returncode == 0, done.stderr
    assert set(_rows(done.stdout)) == {"chat.timeline", "chat.rooms", "chat.history", "chat.search"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = f"postgresql://nobody:secret@127.0.0.1:{port}/x"
    for args in (("--journal", dead), ("--journal", url, "--read-store", dead)):
        for command in (("projections",), ("rebuild", "chat.rooms"), ("ledger", "1")):
            failed = _command("--data", str(tmp_path / "d"), *command, *args)
            assert failed.returncode != 0
            assert f"127.0.0.1:{port}" in failed.stderr, failed.stderr
            assert "secret" not in failed.stderr
            assert "Traceback" not in failed.stderr, failed.stderr


_LOCKS = "datname = current_database() AND application_name LIKE 'kiroku serve --role projector%'"


async def test_a_projector_takes_its_locks_back_after_a_cut_and_stops_if_they_were_taken(
    dsn: str, tmp_path: Path
) -> None:
    url = _url(dsn)
    await _post(dsn)
    projector, log = start_projector(tmp_path / "projector", "--journal", url, "--read-store", url)
    cli = tmp_path / "cli"
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
            await _cut(admin)
            await _wait_for_text(log, "taken back")
            refused = await asyncio.to_thread(_kiroku, cli, url, "rebuild", "chat.rooms", ok=False)
            assert "in use by kiroku serve --role projector" in refused.stderr
            await _cut(admin)  # and this time another writer takes a lock at once
            await admin.execute(
                "SELECT pg_advisory_lock(hashtext('kiroku projection writer'), hashtext(%s))",
                ("chat.rooms",),
            )
            await _wait_for_text(log, "stopping: the read store of chat.rooms")
            assert await asyncio.to_thread(projector.wait, 30) == 0, log.read_text()
    finally:
        if projector.poll() is None:
            projector.kill()


async def _cut(admin: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    cur = await admin.execute(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {_LOCKS}"
    )
    assert len(await cur.fetchall()) == 1


async def _wait_for_text(log: Path, text: str) -> None:
    for _ in range(300):
        if text in await asyncio.to_thread(log.read_text, errors="replace"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} not in the log:\n{await asyncio.to_thread(log.read_text)}")
