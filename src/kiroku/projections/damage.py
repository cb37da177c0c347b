"""A read-model file that cannot be opened is moved aside and rebuilt.

Read models are disposable: everything in them comes from the journal. So a
store SQLite cannot open ("file is not a database", "database disk image is
malformed") is not a reason to refuse to start. The file (with its ``-wal``
and ``-shm``) is renamed beside itself with a UTC timestamp, kept for
inspection, a fresh store takes its place, and its runner catches up from
position 0, which is a rebuild from the journal. It is logged as an error and
stays in ``ProjectionHost.damaged`` so readiness says "not ready" until the new
store has caught up with the journal as it was when the damage was found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kiroku.domain.envelope import utc_now
from kiroku.errors import ReadStoreError
from kiroku.projections.store import ProjectionStore

__all__ = ["DamagedStore", "is_damage", "move_aside", "open_store"]

log = logging.getLogger("kiroku.projections")

_DAMAGE_WORDS = ("not a database", "malformed", "file is encrypted", "unsupported file format")


def is_damage(e: BaseException) -> bool:
    """True for an error saying the file itself is unreadable (not busy, not full)."""
    text = str(e).lower()
    return any(word in text for word in _DAMAGE_WORDS)


@dataclass(frozen=True, slots=True)
class DamagedStore:
    """A store found unreadable, where its file went, and what it said."""

    name: str
    path: Path
    moved_to: Path
    error: str
    at: datetime


def move_aside(name: str, path: Path, error: BaseException) -> DamagedStore:
    """Rename ``path`` (and its WAL files) to ``<path>.damaged-<UTC time>``, loudly."""
    at = utc_now()
    moved_to = path.with_name(f"{path.name}.damaged-{at.strftime('%Y%m%dT%H%M%S.%fZ')}")
    for suffix in ("-wal", "-shm", ""):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(Path(f"{moved_to}{suffix}"))
    log.error(
        "read store of %s at %s cannot be opened (%s): moved aside to %s and rebuilt from "
        "the journal; not ready until it has caught up",
        name,
        path,
        error,
        moved_to,
    )
    return DamagedStore(name, path, moved_to, str(error), at)


def open_store(path: Path, name: str, damaged: dict[str, DamagedStore]) -> ProjectionStore:
    """A projection's store; one that cannot be opened is moved aside and started
    afresh (its runner then rebuilds it from the journal), noted in ``damaged``."""
    try:
        return ProjectionStore(path, name)
    except ReadStoreError as e:
        if not is_damage(e):
            raise
        damaged[name] = move_aside(name, path, e)
        return ProjectionStore(path, name)
