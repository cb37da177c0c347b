"""The SQL both stores speak, rewritten for psycopg; and the package's .sql files.

Bookkeeping and projections write ``?`` placeholders (SQLite's, and the
DB-API's ``qmark``); psycopg takes ``%s`` and reads ``%`` as its own. The
rewrite leaves quoted literals and identifiers alone, and is cached per
statement: the same few statements run for every batch.
"""

from __future__ import annotations

import functools
from importlib import resources

__all__ = ["pg_sql", "read_sql"]


@functools.lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
            out.append("%%" if ch == "%" else ch)
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


@functools.cache
def read_sql(name: str) -> str:
    return resources.files("kiroku.projections.postgres").joinpath("sql", name).read_text("utf-8")
