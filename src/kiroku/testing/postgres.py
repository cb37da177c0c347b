"""A throwaway PostgreSQL server for tests, or the one named by KIROKU_TEST_POSTGRES_DSN.

One server per test session (``shared_server``), started with ``initdb`` and
``pg_ctl`` from the installed binaries (``/usr/lib/postgresql/*/bin`` or the
PATH) on a temporary directory and a free port, with ``fsync=off``: these
tests prove behaviour, not durability against power loss. Each test gets a
fresh database (``fresh_database``). Run as root, the server runs as the
``postgres`` user.

``require_server`` skips a test when neither a server nor binaries are
available, saying why, except under ``CI=true``, where it fails instead.

    from kiroku.testing.postgres import fresh_database

    @pytest.fixture
    async def dsn() -> AsyncIterator[str]:
        async with fresh_database() as dsn:
            yield dsn
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

__all__ = ["PostgresServer", "find_binaries", "fresh_database", "require_server", "shared_server"]

DSN_VARIABLE = "KIROKU_TEST_POSTGRES_DSN"


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A server tests may create databases on; ``dsn`` points at its maintenance database."""

    dsn: str
    data_dir: Path | None = None  # set when this process started it
    bin_dir: Path | None = None

    def dsn_for(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(self.dsn, dbname=dbname)

    def stop(self) -> None:
        if self.data_dir is None or self.bin_dir is None:
            return
        _as_postgres(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"]
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def find_binaries() -> Path | None:
    """The newest installed server's bin directory holding initdb and pg_ctl."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for c in candidates:
        if (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _major(path: str) -> int:
    part = Path(path).parent.name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(argv: list[str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:  # the server refuses to run as root
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def start_server(bin_dir: Path, *, durable: bool = False) -> PostgresServer:
    """initdb + pg_ctl start on a fresh temporary directory and a free port.

    Tests run with ``fsync=off``; ``durable`` keeps PostgreSQL's defaults
    (fsync, synchronous commit), for benchmarks.
    """
    root = Path(tempfile.mkdtemp(prefix="kiroku-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    init = _as_postgres(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ]
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
    port = _free_port()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_prepared_transactions=10"
        " -c max_connections=300 -c shared_buffers=128MB"
    )
    if not durable:
        options = f"-F {options} -c synchronous_commit=off"
    log = root / "server.log"
    started = _as_postgres(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]
    )
    if started.returncode != 0:
        detail = log.read_text() if log.exists() else started.stderr
        raise RuntimeError(f"pg_ctl start failed: {detail}")
    server = PostgresServer(
        f"host=127.0.0.1 port={port} user=postgres dbname=postgres", data, bin_dir
    )
    atexit.register(server.stop)
    return server


_shared: PostgresServer | None = None
_why_not: str | None = None


def shared_server() -> PostgresServer | None:
    """The session's server: KIROKU_TEST_POSTGRES_DSN, else one started here (None if neither)."""
    global _shared, _why_not
    if _shared is None and _why_not is None:
        if dsn := os.environ.get(DSN_VARIABLE):
            _shared = PostgresServer(dsn)
        elif (bin_dir := find_binaries()) is None:
            _why_not = f"no PostgreSQL server binaries (initdb, pg_ctl) and {DSN_VARIABLE} unset"
        else:
            try:
                _shared = start_server(bin_dir)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                _why_not = f"could not start a throwaway PostgreSQL: {e}"
    return _shared


def require_server() -> PostgresServer:
    """The shared server; otherwise skip (fail under CI=true) saying why."""
    server = shared_server()
    if server is None:
        reason = _why_not or "no PostgreSQL server"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    return server


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty database on the shared server, dropped afterwards; yields its DSN."""
    server = require_server()
    name = f"kiroku_test_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(server.dsn, autocommit=True) as admin:
        await admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.dsn_for(name)
    finally:
        async with await psycopg.AsyncConnection.connect(server.dsn, autocommit=True) as admin:
            await admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
