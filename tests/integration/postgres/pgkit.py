"""Fixtures and tools for the PostgreSQL integration tests: a fresh database per
test (import ``dsn_fixture``), raw appends inside a transaction the test
controls, and a TCP proxy that can cut the connection to the server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from kiroku.domain.envelope import NewEvent, StoredEvent
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.testing.postgres import fresh_database

__all__ = ["TcpProxy", "append_in", "dsn_fixture", "events", "journal_fixture", "raw_connection"]


@pytest.fixture(name="dsn")
async def dsn_fixture() -> AsyncIterator[str]:
    """A fresh database on the session's throwaway server (import this fixture)."""
    async with fresh_database() as dsn:
        yield dsn


@pytest.fixture(name="journal")
async def journal_fixture(dsn: str) -> AsyncIterator[PostgreSQLJournal]:
    async with await PostgreSQLJournal.open(dsn, poll_interval=0.5) as journal:
        yield journal


def events(n: int, **kw: Any) -> list[NewEvent]:
    return [NewEvent("test.Happened", 1, b'{"n":%d}' % i, **kw) for i in range(n)]


async def raw_connection(dsn: str, schema: str = "kiroku") -> psycopg.AsyncConnection[Any]:
    """A connection outside the journal, where the test decides when to commit."""
    return await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, options=f"-c search_path={schema}"
    )


async def append_in(conn: psycopg.AsyncConnection[Any], stream: str, n: int) -> tuple[int, int]:
    """Append ``n`` events to ``stream`` (any version) in ``conn``'s current transaction."""
    now = datetime.now(UTC)
    cur = await conn.execute(
        "SELECT outcome, first_position, last_position FROM append_batch("
        "%s::text[], %s::bigint[], %s::integer[], false, %s::text[], %s::integer[], %s::text[],"
        " %s::uuid[], %s::timestamptz[], %s::text[], %s::text[], %s::jsonb[])",
        (
            [stream],
            [-1],
            [n],
            ["test.Happened"] * n,
            [1] * n,
            [f'{{"raw":{i}}}' for i in range(n)],
            [uuid.uuid4() for _ in range(n)],
            [now] * n,
            [None] * n,
            [None] * n,
            ["{}"] * n,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    assert row[0] == "ok", row
    return int(row[1]), int(row[2])


def check_stream_order(seen: list[StoredEvent]) -> None:
    """Every stream's events arrive once each, in version order, with no gap."""
    versions: dict[str, int] = {}
    for e in seen:
        assert e.version == versions.get(e.stream, 0) + 1, (e.stream, e.version, versions)
        versions[e.stream] = e.version


class TcpProxy:
    """Forwards 127.0.0.1:port to the server; ``cut`` drops every connection and
    refuses new ones, as a network outage or a dead server would."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(OSError, RuntimeError):
                writer.transport.abort()
