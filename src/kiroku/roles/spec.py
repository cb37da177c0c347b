"""Which roles a process runs, and where its journal, bus and read stores are.

Every setting is a URL so one flag, one ``KIROKU_*`` variable or one TOML key
says both the engine and the place:

- journal: ``sqlite:///PATH`` (relative) or ``sqlite:////ABS/PATH``, or
  ``postgresql://…``;
- bus: ``memory`` (in this process only) or ``nats://host:port``; none at all
  means projectors follow the journal directly (the embedded default);
- read store: ``sqlite:///DIR`` (the read models and the users' tokens).
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from kiroku.bus.errors import BusUnavailableError
from kiroku.bus.memory import MemoryBus
from kiroku.bus.protocol import Bus
from kiroku.bus.subjects import DEFAULT_PARTITIONS
from kiroku.errors import ConfigError, KirokuError
from kiroku.journal.protocol import Journal
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.journal.sqlite.ownership import claim_journal
from kiroku.projections.lanes import parse_partitions

__all__ = [
    "ROLES",
    "RoleSpec",
    "StartupError",
    "bus_from_url",
    "journal_from_url",
    "parse_roles",
    "safe_url",
    "sqlite_path",
]

ROLES = ("write", "relay", "projector", "read")
EMBEDDED = frozenset({"write", "projector", "read"})


class StartupError(KirokuError):
    """A dependency named in the settings cannot be reached: says what and where."""


def parse_roles(text: str, bus: str | None = None) -> frozenset[str]:
    """``"write,read"`` -> {"write", "read"}; ``all`` is every role (the relay only
    with a bus: without one, projectors follow the journal and nothing needs relaying)."""
    names = {part.strip() for part in text.replace("+", ",").split(",") if part.strip()}
    if "all" in names:
        return frozenset(r for r in ROLES if bus is not None or r != "relay")
    unknown = sorted(names - set(ROLES))
    if unknown or not names:
        raise ConfigError(
            f"Unknown role {', '.join(unknown) or repr(text)}: choose from "
            f"{', '.join((*ROLES, 'all'))} (several joined by commas)"
        )
    return frozenset(names)


def sqlite_path(url: str, what: str) -> Path:
    if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
        raise ConfigError(f"The {what} URL {url!r} is not sqlite:///PATH")
    return Path(url[len("sqlite:///") :])


@dataclass(frozen=True, slots=True)
class RoleSpec:
    roles: frozenset[str]
    journal: str
    bus: str | None
    read_store: str
    data: Path | None = None  # this process's own files when the read store is a server
    partitions: str | None = None  # a projector sharing its projections' partitions: "0-7"

    @property
    def read_on_postgres(self) -> bool:
        return self.read_store.startswith(("postgresql://", "postgres://"))

    @property
    def read_dir(self) -> Path:
        """Where this process keeps files: the SQLite read store's directory, or
        (read stores on PostgreSQL) its own data directory, shared with no one."""
        if self.read_on_postgres:
            if self.data is None:
                raise ConfigError("A PostgreSQL read store needs a data directory for the rest")
            return self.data
        return sqlite_path(self.read_store, "read store")

    @property
    def embedded(self) -> bool:
        """Every role in one process with no bus: exactly today's ``kiroku serve``."""
        return self.roles == EMBEDDED and self.bus is None

    def check(self) -> None:
        if self.bus is None and "relay" in self.roles:
            raise ConfigError("The relay role needs a bus: --bus nats://HOST:PORT (or memory)")
        if self.bus == "memory" and not {"relay", "projector"} <= self.roles:
            raise ConfigError(
                "--bus memory lives in one process: run relay and projector together, "
                "or use --bus nats://HOST:PORT"
            )
        if not (self.journal.startswith("sqlite:///") or self.journal.startswith("postgres")):
            raise ConfigError(
                f"The journal URL {self.journal!r} is neither sqlite:///PATH nor postgresql://…"
            )
        self.read_dir  # noqa: B018 - validates the URL
        self.lane_partitions()

    def lane_partitions(self) -> tuple[int, ...] | None:
        """``--partitions`` as numbers: a lane of every projection this projector runs."""
        if self.partitions is None:
            return None
        if "projector" not in self.roles:
            raise ConfigError("--partitions is for the projector role")
        if self.bus is None or self.bus == "memory":
            raise ConfigError(
                "--partitions shares projections between projector processes over the bus:"
                " it needs --bus nats://HOST:PORT"
            )
        if not self.read_on_postgres:
            raise ConfigError(
                "--partitions needs --read-store postgresql://…: the lanes of a projection"
                " write one read store, and a SQLite read store belongs to one process"
            )
        return parse_partitions(self.partitions, DEFAULT_PARTITIONS)


class _Opens(Protocol):
    async def open(self, dsn: str) -> Journal: ...


async def journal_from_url(url: str, app: str | None = None) -> Journal:
    """Open the journal ``url`` names; StartupError (what and where) if it cannot be.

    With ``app``, a SQLite journal is claimed for that app first (refused with
    ``JournalOwnedError`` if another app wrote it; see ``journal.sqlite.ownership``).
    """
    if url.startswith(("postgresql://", "postgres://")):
        try:
            module = importlib.import_module("kiroku.journal.postgres")
        except ImportError as e:
            raise ConfigError(
                f"The PostgreSQL journal is not available ({e}); install kiroku[postgres]"
            ) from e
        opener = cast(_Opens, module.PostgreSQLJournal)
        try:
            return await opener.open(url)
        except KirokuError:
            raise
        except Exception as e:  # the driver's own errors: name the server
            raise StartupError(f"Cannot open the PostgreSQL journal at {safe_url(url)}: {e}") from e
    path = sqlite_path(url, "journal")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        journal = await SQLiteJournal.open(path)
    except OSError as e:
        raise StartupError(f"Cannot open the SQLite journal at {path}: {e}") from e
    if app is not None:
        try:
            await asyncio.to_thread(claim_journal, path, app)
        except BaseException:
            await journal.close()
            raise
    return journal


async def bus_from_url(url: str | None) -> Bus | None:
    if url is None:
        return None
    if url == "memory":
        return MemoryBus()
    if not url.startswith(("nats://", "tls://")):
        raise ConfigError(f"The bus URL {url!r} is neither memory nor nats://HOST:PORT")
    try:
        from kiroku.bus.nats import NatsBus
    except ImportError as e:
        raise ConfigError(f"The NATS bus needs nats-py ({e}); install kiroku[nats]") from e
    try:
        return await NatsBus.connect(url)
    except BusUnavailableError as e:
        raise StartupError(str(e)) from e


def safe_url(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, cred = head.partition("//")
    return f"{scheme}//{cred.split(':', 1)[0]}:***@{tail}"
