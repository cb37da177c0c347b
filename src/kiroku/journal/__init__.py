"""The journal protocol and its backends."""

from kiroku.journal.memory import MemoryJournal
from kiroku.journal.protocol import (
    ANY,
    NO_STREAM,
    AppendResult,
    ExpectedVersion,
    Journal,
    Snapshot,
    StreamState,
)
from kiroku.journal.sqlite import SQLiteJournal, WriterStats

__all__ = [
    "ANY",
    "NO_STREAM",
    "AppendResult",
    "ExpectedVersion",
    "Journal",
    "MemoryJournal",
    "SQLiteJournal",
    "Snapshot",
    "StreamState",
    "WriterStats",
]
