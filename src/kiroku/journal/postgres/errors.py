"""The one place psycopg's exceptions become kiroku errors, for this backend."""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout

from kiroku.errors import JournalError, KirokuError, StorageUnavailableError

__all__ = ["convert_error", "describe_target", "is_unavailable", "unavailable"]


def describe_target(conninfo: str) -> str:
    """``host:port/dbname`` of a connection string, without the password."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "(unparsable connection string)"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or ''}"


def is_unavailable(e: BaseException) -> bool:
    """A lost or refused connection, rather than a statement the server rejected."""
    if isinstance(e, PoolTimeout | psycopg.InterfaceError):
        return True
    if isinstance(e, psycopg.OperationalError):
        state = e.sqlstate or ""
        # 08: connection exception; 57P0x: admin shutdown / crash / cannot connect now.
        return not state or state.startswith(("08", "57P"))
    return False


def convert_error(e: BaseException, doing: str, target: str) -> KirokuError:
    error: KirokuError
    if is_unavailable(e):
        error = StorageUnavailableError(
            f"PostgreSQL at {target} is unavailable while {doing}: {str(e).strip()}"
        )
    else:
        state = getattr(e, "sqlstate", None) or type(e).__name__
        error = JournalError(f"{doing} failed ({state}): {str(e).strip()}")
    error.__cause__ = e
    return error


def unavailable(e: BaseException, target: str) -> StorageUnavailableError:
    """A failure to connect at all, whatever the server said (down, starting, refusing)."""
    error = StorageUnavailableError(f"PostgreSQL at {target} is unreachable: {str(e).strip()}")
    error.__cause__ = e
    return error
