"""The operations tasks' record: each projection's last replay or rebuild, on disk.

A task's state in memory dies with its process, and with it the operator's
view of work that outlives the process: a replay's rewind is durable and goes
on after a restart, a rebuild is abandoned half-built. So the process that runs
the operations (the projector process, or the one process of an embedded
server) keeps this record in its read-store directory, and takes up at start
what it says was running (``LocalOperations.resume``).

One process writes it, in a directory it owns, so there is no lock. Every write
replaces the whole file: a temporary file beside it, flushed and fsynced, renamed
over it, then the directory fsynced, so a crash leaves the old record or the new
one, never half of either. A file that cannot be read is moved aside with a
warning and read as empty: losing the record loses resumption and the last
outcomes, never an event or a read model, so it must not stop a start-up.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import msgspec

from kiroku.projections import Progress

__all__ = ["RECORD_FILE", "Kind", "TaskRecord", "TaskRecordFile", "now"]

log = logging.getLogger("kiroku.chat")

RECORD_FILE = "ops-tasks.json"
"""The record's file in the read-store directory."""

RUNNING = "running"
Kind = Literal["replay", "rebuild"]


def now() -> datetime:
    return datetime.now(UTC)


class TaskRecord(msgspec.Struct, kw_only=True):
    """One projection's task: what was asked, how it went, how often it was taken up."""

    name: str
    kind: Kind
    started: datetime
    state: str = RUNNING  # then "done", "done with N parked" or "failed"
    first: int | None = None  # a replay's first position: where to redo it from
    ended: datetime | None = None
    error: str | None = None
    progress: Progress | None = None
    resumed: int = 0  # restarts it was taken up after

    @property
    def running(self) -> bool:
        return self.state == RUNNING


class _Stored(msgspec.Struct):
    tasks: list[TaskRecord]
    version: Literal[1] = 1  # another version is not guessed at: it reads as unreadable


class TaskRecordFile:
    """``RECORD_FILE`` in ``directory``: read once at start, replaced on every change."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / RECORD_FILE

    def load(self) -> dict[str, TaskRecord]:
        """The recorded tasks by projection; none when the file is missing or unreadable."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            log.warning(
                "the operations record %s cannot be read (%s): no task resumed", self.path, e
            )
            return {}
        try:
            stored = msgspec.json.decode(data, type=_Stored)
        except msgspec.DecodeError as e:  # ValidationError included
            self._move_aside(e)
            return {}
        return {task.name: task for task in stored.tasks}

    def save(self, tasks: Iterable[TaskRecord]) -> None:
        """Replace the record with ``tasks``, atomically and durably (OSError if it cannot)."""
        data = msgspec.json.encode(_Stored(sorted(tasks, key=lambda t: t.name)))
        tmp = self.path.with_name(f".{self.path.name}.tmp")  # one writer: one name, reused
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _sync_directory(self.path.parent)

    def _move_aside(self, error: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.unreadable-{now():%Y%m%dT%H%M%S.%fZ}")
        try:
            self.path.rename(aside)
        except OSError as e:
            log.warning("the operations record %s is unreadable (%s) and stays: %s", self.path,
                        error, e)  # fmt: skip
            return
        log.warning(
            "the operations record %s is unreadable (%s): moved aside to %s; no task resumed",
            self.path, error, aside,
        )  # fmt: skip


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable: it lives in the directory's entries."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
