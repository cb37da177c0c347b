"""Roles and URLs: parsed strictly, refused with a message that says what to write."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiroku.errors import ConfigError, KirokuError
from kiroku.roles import RoleSpec, bus_from_url, journal_from_url, parse_roles
from kiroku.roles.spec import safe_url, sqlite_path


def test_roles_parse_and_all_needs_a_bus_for_the_relay() -> None:
    assert parse_roles("write, read") == {"write", "read"}
    assert parse_roles("all") == {"write", "projector", "read"}
    assert parse_roles("all", "nats://x:4222") == {"write", "relay", "projector", "read"}
    with pytest.raises(ConfigError, match="writer"):
        parse_roles("writer,read")
    with pytest.raises(ConfigError):
        parse_roles(" , ")


def test_sqlite_urls_are_relative_or_absolute() -> None:
    assert sqlite_path("sqlite:///data/journal.db", "journal") == Path("data/journal.db")
    assert sqlite_path("sqlite:////var/kiroku/j.db", "journal") == Path("/var/kiroku/j.db")
    with pytest.raises(ConfigError, match="sqlite:///PATH"):
        sqlite_path("sqlite://", "journal")


def spec(roles: str, bus: str | None = None, journal: str = "sqlite:///j.db") -> RoleSpec:
    return RoleSpec(parse_roles(roles, bus), journal, bus, "sqlite:///d")


def test_role_combinations_that_cannot_work_are_refused() -> None:
    with pytest.raises(ConfigError, match="relay role needs a bus"):
        spec("relay").check()
    with pytest.raises(ConfigError, match="memory lives in one process"):
        spec("projector", "memory").check()
    with pytest.raises(ConfigError, match="neither sqlite"):
        spec("write", journal="mysql://x").check()
    spec("relay,projector", "memory").check()
    assert spec("all").embedded
    assert not spec("write,read").embedded


async def test_bus_urls() -> None:
    assert await bus_from_url(None) is None
    memory = await bus_from_url("memory")
    assert memory is not None
    assert memory.url == "memory"
    with pytest.raises(ConfigError, match="neither memory nor nats"):
        await bus_from_url("kafka://x")


async def test_a_postgresql_journal_url_names_what_is_missing_or_unreachable() -> None:
    with pytest.raises(KirokuError, match=r"PostgreSQL"):
        await journal_from_url("postgresql://kiroku@127.0.0.1:1/none")


def test_passwords_are_masked_in_messages() -> None:
    assert safe_url("postgresql://kiroku:secret@db1/k") == "postgresql://kiroku:***@db1/k"
    assert safe_url("postgresql://db1/k") == "postgresql://db1/k"


async def test_a_sqlite_journal_url_opens_the_file(tmp_path: Path) -> None:
    journal = await journal_from_url(f"sqlite:///{tmp_path}/sub/journal.db")
    try:
        assert await journal.head_position() == 0
    finally:
        await journal.close()
    assert (tmp_path / "sub" / "journal.db").exists()


def test_a_postgres_read_store_keeps_this_process_files_in_its_data_directory() -> None:
    roles = parse_roles("read")
    spec = RoleSpec(roles, "postgresql://db/k", None, "postgresql://db/k", data=Path("d"))
    assert spec.read_on_postgres
    assert spec.read_dir == Path("d")
    spec.check()
    lite = RoleSpec(roles, "postgresql://db/k", None, "sqlite:///r", data=Path("d"))
    assert not lite.read_on_postgres
    assert lite.read_dir == Path("r")
    with pytest.raises(ConfigError, match="data directory"):
        _ = RoleSpec(roles, "postgresql://db/k", None, "postgresql://db/k").read_dir
