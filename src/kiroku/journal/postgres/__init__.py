"""The PostgreSQL journal: group-committing writers, readers that never skip.

`journal` holds the public `PostgreSQLJournal`; `writer` group-commits,
`listen` carries wake-ups between processes, `migrate` creates the schema from
the SQL objects under `sql/`, `rows` and `errors` convert at the boundary.
"""

from kiroku.journal.postgres.journal import Horizon, PostgreSQLJournal
from kiroku.journal.postgres.writer import WriterStats

__all__ = ["Horizon", "PostgreSQLJournal", "WriterStats"]
