"""The PostgreSQL journal's schema, created and migrated by the library.

Each migration is a version number and the SQL objects (files under ``sql/``)
it creates. ``migrate`` applies the missing ones in order, each in its own
transaction together with its row in ``schema_migrations``, under an advisory
lock so that two processes starting at once do not both apply it. Running it
again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from psycopg import AsyncConnection, sql

__all__ = [
    "MIGRATIONS",
    "Migration",
    "applied_versions",
    "migrate",
    "missing_migrations",
    "read_sql",
]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    files: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the journal: events, streams, snapshots and their functions",
        (
            "tables/events.sql",
            "tables/streams.sql",
            "tables/deleted_events.sql",
            "tables/snapshots.sql",
            "indexes/events_tx_position.sql",
            "functions/append_events.sql",
            "functions/append_batch.sql",
            "functions/read_after.sql",
            "functions/cursor_at.sql",
            "functions/head_position.sql",
            "functions/delete_before.sql",
            "functions/horizon.sql",
        ),
    ),
    Migration(
        2,
        "users and their token hashes, shared by every node",
        ("tables/users.sql", "functions/add_user.sql", "functions/remove_user.sql"),
    ),
    Migration(3, "every process's heartbeat, for kiroku status", ("tables/heartbeats.sql",)),
    Migration(4, "big snapshots in parts, one transaction each", ("tables/snapshot_parts.sql",)),
)

_LOCK_KEY = 0x6B69726F6B75  # "kiroku": one migrator at a time, per database

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     PRIMARY KEY,
    description text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def read_sql(name: str) -> str:
    return resources.files("kiroku.journal.postgres").joinpath("sql", name).read_text("utf-8")


async def applied_versions(conn: AsyncConnection[Any], schema: str) -> list[int]:
    found = await conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.schema_migrations",)
    )
    row = await found.fetchone()
    if row is None or not row[0]:
        return []
    query = sql.SQL("SELECT version FROM {}.schema_migrations ORDER BY version")
    cur = await conn.execute(query.format(sql.Identifier(schema)))
    return [r[0] for r in await cur.fetchall()]


async def missing_migrations(conn: AsyncConnection[Any], schema: str) -> list[int]:
    """The versions this code needs that ``schema`` has not applied."""
    applied = set(await applied_versions(conn, schema))
    return [m.version for m in MIGRATIONS if m.version not in applied]


async def migrate(conn: AsyncConnection[Any], schema: str) -> list[Migration]:
    """Apply the migrations ``schema`` lacks; return those applied (none if current)."""
    applied: list[Migration] = []
    for migration in MIGRATIONS:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            if migration.version in await applied_versions(conn, schema):
                continue
            await conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
            await conn.execute(
                sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema))
            )
            await conn.execute(_MIGRATIONS_TABLE)
            for name in migration.files:
                await conn.execute(read_sql(name).encode())
            await conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
            applied.append(migration)
    return applied
