"""The embedded journal: one SQLite file, one writer thread, a pool of readers.

`journal` holds the public `SQLiteJournal`; `schema`, `writer`, `reader` and
`queries` are its parts, and `wakeup` tells other processes on the same machine
that an append landed.
"""

from kiroku.journal.sqlite.journal import SQLiteJournal
from kiroku.journal.sqlite.writer import WriterStats

__all__ = ["SQLiteJournal", "WriterStats"]
