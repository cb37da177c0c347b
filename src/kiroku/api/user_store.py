"""Where a node finds its users: the seam between the HTTP layer and the stores.

Every caller (the request path, live streams, ``kiroku users``) sees one shape,
:class:`UserStore`, answered synchronously from memory: authenticating must not
wait on I/O per request. Two stores fill that memory:

- :class:`~kiroku.api.auth.TokenStore`, ``users.json`` in the data directory
  (one machine: the embedded server and processes sharing its directory);
- :class:`~kiroku.api.pg_users.PostgreSQLTokenStore`, a table in the journal's
  PostgreSQL database, followed by LISTEN/NOTIFY with a re-check beside it, so
  every node on the database refuses a removed user's token at once.

Both raise :class:`~kiroku.errors.UserStoreError` (HTTP 503 with Retry-After)
when they cannot say who holds a token *now*, rather than answer from a copy
that may still hold a revoked one. ``changes`` counts what a watcher must act
on (a user changed, the store became unusable or usable again).
"""

from __future__ import annotations

from typing import Protocol

from kiroku.api.auth import Principal, UserRecord

__all__ = ["UserStore", "is_postgres_url"]


class UserStore(Protocol):
    @property
    def changes(self) -> int: ...

    @property
    def unreadable(self) -> str | None:
        """Why the users cannot be known now, or None."""
        ...

    def refresh(self, max_age: float = 0.0) -> None: ...

    def users(self) -> list[UserRecord]: ...

    def removed(self) -> list[UserRecord]: ...

    def exists(self, name: str) -> bool: ...

    def active(self, name: str, *, max_age: float = 0.0) -> bool: ...

    def authenticate(self, token: str | None) -> Principal: ...

    def add(self, name: str, *, admin: bool = False) -> str: ...

    def remove(self, name: str) -> None: ...


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))
