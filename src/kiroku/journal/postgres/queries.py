"""The PostgreSQL journal's statements, next to each other so they can be read as SQL.

The heavier logic lives in the SQL functions under ``sql/functions``; these
call them or read the tables directly.
"""

from __future__ import annotations

from kiroku.journal.postgres.rows import EVENT_COLUMNS

__all__ = [
    "CURSOR_AT",
    "DELETE_BEFORE",
    "FIND_EVENT",
    "GET_EVENT",
    "HEAD_POSITION",
    "HORIZON",
    "POSITION_AT",
    "READ_FROM_POSITION",
    "READ_ORDER",
    "READ_STREAM",
    "STREAM_VERSION",
]

_R = ", ".join(f"r.{c.strip()}" for c in EVENT_COLUMNS.split(","))

READ_FROM_POSITION = (
    f"SELECT {_R}, r.tx::text FROM cursor_at(%s) c,"
    " LATERAL read_after(coalesce(c.tx, '0'::xid8), coalesce(c.position, 0), %s) r"
)
CURSOR_AT = "SELECT tx::text, position FROM cursor_at(%s)"
READ_STREAM = (
    f"SELECT {EVENT_COLUMNS} FROM events"
    " WHERE stream = %s AND version BETWEEN %s AND %s ORDER BY version"
)
READ_ORDER = "SELECT position, tx::text FROM events WHERE position = ANY(%s::bigint[])"
GET_EVENT = f"SELECT {EVENT_COLUMNS} FROM events WHERE position = %s"
FIND_EVENT = f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = %s"
POSITION_AT = "SELECT position FROM events WHERE occurred_at <= %s ORDER BY position DESC LIMIT 1"
HEAD_POSITION = "SELECT head_position()"
STREAM_VERSION = "SELECT version FROM streams WHERE stream = %s"
HORIZON = "SELECT xmin::text, waiting_events, oldest_age_seconds FROM horizon()"
DELETE_BEFORE = "SELECT delete_before(%s, %s)"
