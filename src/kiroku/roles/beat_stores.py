"""Where heartbeats are kept: wherever the deployment already shares state.

- :class:`PostgreSQLBeats`: the ``heartbeats`` table of the journal's database;
  ages are measured on the database's clock, so machines' clocks need not agree;
- :class:`NatsBeats`: a KV bucket beside the bus's stream (``<STREAM>_heartbeats``);
- :class:`FileBeats`: one file per process in ``<data>/heartbeats`` (one machine).

:func:`beat_store_for` picks the first that applies, in that order, so every
process of one deployment, and ``kiroku status``, agree on the place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from kiroku.api.user_store import is_postgres_url
from kiroku.bus.protocol import Bus
from kiroku.roles.heartbeat import Beat, BeatStore, Seen

if TYPE_CHECKING:
    import psycopg
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = ["FileBeats", "NatsBeats", "PostgreSQLBeats", "beat_store_for"]

HEARTBEATS_DIR = "heartbeats"
_UNSAFE = re.compile(r"[^-_=.A-Za-z0-9]")


def _safe(node: str) -> str:
    return _UNSAFE.sub("_", node)


class FileBeats:
    def __init__(self, data: Path) -> None:
        self.root = data / HEARTBEATS_DIR

    async def publish(self, beat: Beat) -> None:
        await asyncio.to_thread(self._write, beat)

    def _write(self, beat: Beat) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{_safe(beat.node)}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(beat))
        os.replace(tmp, path)

    async def forget(self, node: str) -> None:
        (self.root / f"{_safe(node)}.json").unlink(missing_ok=True)

    async def read(self) -> list[Seen]:
        return await asyncio.to_thread(self._read)

    def _read(self) -> list[Seen]:
        now, found = time.time(), []
        for path in sorted(self.root.glob("*.json")) if self.root.is_dir() else ():
            with contextlib.suppress(OSError, msgspec.DecodeError):  # removed or being replaced
                beat = msgspec.json.decode(path.read_bytes(), type=Beat)
                found.append(Seen(beat, max(0.0, now - beat.beat_at)))
        return found

    async def close(self) -> None:
        return None


class PostgreSQLBeats:
    """One connection of its own, opened on first use and again after a failure."""

    def __init__(self, conninfo: str, schema: str = "kiroku") -> None:
        self.conninfo, self.schema = conninfo, schema
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def _execute(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        from kiroku.journal.postgres.errors import convert_error, describe_target

        try:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, connect_timeout=5,
                    options=f"-c search_path={self.schema}",
                )  # fmt: skip
            cur = await self._conn.execute(query, params)
            return await cur.fetchall() if cur.description else []
        except psycopg.Error as e:
            await self.close()
            raise convert_error(e, "the heartbeats", describe_target(self.conninfo)) from e

    async def publish(self, beat: Beat) -> None:
        await self._execute(
            "INSERT INTO heartbeats (node, beat, beat_at) VALUES (%s, %s, now())"
            " ON CONFLICT (node) DO UPDATE SET beat = excluded.beat, beat_at = now()",
            (beat.node, msgspec.json.encode(beat).decode()),
        )

    async def forget(self, node: str) -> None:
        await self._execute("DELETE FROM heartbeats WHERE node = %s", (node,))

    async def read(self) -> list[Seen]:
        rows = await self._execute(
            "SELECT beat::text, extract(epoch FROM now() - beat_at)::float8"
            " FROM heartbeats ORDER BY node"
        )
        return [Seen(msgspec.json.decode(r[0], type=Beat), max(0.0, r[1])) for r in rows]

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


class NatsBeats:
    def __init__(self, js: JetStreamContext, bucket: str) -> None:
        self.js, self.bucket = js, bucket
        self._kv: KeyValue | None = None

    async def _open(self) -> KeyValue:
        import nats.js.errors as jse

        if self._kv is None:
            try:
                self._kv = await self.js.key_value(self.bucket)
            except jse.BucketNotFoundError:
                self._kv = await self.js.create_key_value(bucket=self.bucket, history=1)
        return self._kv

    async def publish(self, beat: Beat) -> None:
        await (await self._open()).put(_safe(beat.node), msgspec.json.encode(beat))

    async def forget(self, node: str) -> None:
        await (await self._open()).purge(_safe(node))

    async def read(self) -> list[Seen]:
        import nats.js.errors as jse

        kv, now, found = await self._open(), time.time(), []
        try:
            keys = await kv.keys()
        except jse.NoKeysError:
            return []
        for key in keys:
            with contextlib.suppress(jse.KeyNotFoundError, jse.KeyDeletedError):
                entry = await kv.get(key)
                if entry.value:
                    beat = msgspec.json.decode(entry.value, type=Beat)
                    found.append(Seen(beat, max(0.0, now - beat.beat_at)))
        return found

    async def close(self) -> None:
        return None


def beat_store_for(journal: str, bus: Bus | None, data: Path) -> BeatStore:
    if is_postgres_url(journal):
        return PostgreSQLBeats(journal)
    nats_bus = _nats(bus)
    if nats_bus is not None:
        return NatsBeats(nats_bus.js, f"{nats_bus.options.stream}_heartbeats")
    return FileBeats(data)


def _nats(bus: Bus | None) -> Any:
    if bus is None:
        return None
    try:
        from kiroku.bus.nats import NatsBus
    except ImportError:  # nats-py is an optional extra; no NATS bus without it
        return None
    return bus if isinstance(bus, NatsBus) else None
