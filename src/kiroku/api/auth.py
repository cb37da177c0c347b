"""Bearer tokens: issued once, stored only as hashes, in the data directory.

A token is 32 random bytes (256 bits) from ``secrets``, shown to the operator
once. The file keeps SHA-256 of it. A fast, unsalted hash is the right tool
here, unlike for passwords: with 2**256 possible tokens nothing can be guessed
or precomputed, so a slow hash would only slow every request while protecting
nothing. A leaked ``users.json`` therefore reveals names, never usable tokens.

The file is rewritten atomically (temporary file + rename) under a lock file,
so a reader sees the old list or the new one, never half of either. A running
server notices changes without a ``stat`` per request: it checks the file at
most every :data:`MAX_AGE` seconds (a watcher does so on that beat too, and
ends live streams whose user is gone), and at once when a token or name it does
not know is presented, so a just-added user works on their first request.

A file that cannot be parsed (hand-edited, damaged) is never half-applied and
never silently replaced by the last good copy: every request that needs the
users is answered 503 (:class:`UserStoreError`) and the read is retried on the
next check until the file is whole again.

Removed users are kept as tombstones (name, no token), so a removed name can
never be issued again: a new user with an old name would otherwise inherit the
old user's rooms and their history, which live in the journal by name.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from kiroku.errors import AuthenticationError, InputError, UserStoreError

__all__ = [
    "MAX_AGE",
    "USERS_FILE",
    "Principal",
    "TokenStore",
    "UserRecord",
    "authenticated",
    "hash_token",
    "valid_user_name",
]

log = logging.getLogger("kiroku.auth")

USERS_FILE = "users.json"
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}\Z")
_UNREADABLE = "The users file cannot be read (damaged?); the server log says why. Retrying."
MAX_AGE = 0.25
"""Seconds a server may answer from its copy of the users before looking at the file again."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    name: str
    admin: bool


class UserRecord(msgspec.Struct, frozen=True):
    name: str
    token_sha256: str
    admin: bool = False
    created_at: str = ""
    removed_at: str = ""
    """Set when removed: the record stays, without a token, so the name is never reused."""


class _File(msgspec.Struct):
    users: list[UserRecord] = []


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def valid_user_name(name: str) -> bool:
    return bool(_NAME.match(name))


class TokenStore:
    """Users and their token hashes in ``<data>/users.json``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / USERS_FILE
        self._lock_path = data_dir / (USERS_FILE + ".lock")
        self._records: dict[str, UserRecord] = {}
        self._by_hash: dict[str, UserRecord] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._error: str | None = None
        self.changes = 0
        """Counts every change seen (users, or the file turning unreadable): watchers compare it."""
        self.reload()

    # -- reading ------------------------------------------------------------------

    def _read(self) -> list[UserRecord]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            return msgspec.json.decode(raw, type=_File).users
        except msgspec.DecodeError as e:
            raise UserStoreError(f"{self.path} cannot be read as a users file: {e}") from e

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload(self) -> None:
        """Read the file whole and swap it in, or keep nothing usable and remember why."""
        self._checked = time.monotonic()
        stamp = self._current_stamp()
        try:
            users = self._read()
        except UserStoreError as e:
            if self._error is None:
                self.changes += 1
                log.error("%s; refusing requests until it is whole again", e)
            self._error, self._stamp = _UNREADABLE, None  # None: the next check reads it again
            return
        records = {u.name: u for u in users}
        if self._error is not None or records != self._records:
            self.changes += 1
        self._error, self._stamp = None, stamp
        self._records = records
        self._by_hash = {u.token_sha256: u for u in users if not u.removed_at}

    def refresh(self, max_age: float = 0.0) -> None:
        """Re-read the file if it changed or is unreadable, unless checked under ``max_age`` ago."""
        if self._error is None and time.monotonic() - self._checked < max_age:
            return  # while the file is damaged every use retries it, so a repair counts at once
        self._checked = time.monotonic()
        if self._error is not None or self._current_stamp() != self._stamp:
            self.reload()

    def _usable(self) -> None:
        if self._error is not None:
            raise UserStoreError(self._error)

    @property
    def unreadable(self) -> str | None:
        """Why the users file cannot be used now, or None."""
        return self._error

    def users(self) -> list[UserRecord]:
        """The current users (removed ones are not listed; see :meth:`removed`)."""
        self.refresh()
        self._usable()
        return listed(self._records.values(), removed=False)

    def removed(self) -> list[UserRecord]:
        self.refresh()
        self._usable()
        return listed(self._records.values(), removed=True)

    def exists(self, name: str) -> bool:
        """Whether ``name`` is a current user; an unknown name checks the file at once."""
        found = self.active(name, max_age=MAX_AGE)
        return found or self.active(name)

    def active(self, name: str, *, max_age: float = 0.0) -> bool:
        """Whether ``name`` holds a token now; :class:`UserStoreError` if that cannot be known."""
        self.refresh(max_age)
        self._usable()
        record = self._records.get(name)
        return record is not None and not record.removed_at

    def authenticate(self, token: str | None) -> Principal:
        """The user holding ``token``; AuthenticationError if none does."""
        digest = digest_of(token)
        self.refresh(MAX_AGE)
        self._usable()
        user = self._by_hash.get(digest)
        if user is None:  # perhaps added a moment ago: look at the file now
            self.refresh()
            self._usable()
            user = self._by_hash.get(digest)
        return principal_of(user, digest)

    # -- writing ------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self.reload()
                self._usable()  # never rewrite a damaged file from a partial reading
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, users: list[UserRecord]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(_File(users))))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self.reload()

    def add(self, name: str, *, admin: bool = False) -> str:
        """Create ``name`` and return its token, the only time it is ever visible."""
        if not valid_user_name(name):
            raise InputError(f"User name {name!r} must be 1-32 of A-Z a-z 0-9 _ . -")
        with self._locked():
            old = self._records.get(name)
            if old is not None and old.removed_at:
                raise InputError(
                    f"User {name!r} was removed at {old.removed_at}; a removed name is never "
                    "issued again, so a new user cannot inherit its rooms and history"
                )
            if old is not None:
                raise InputError(f"User {name!r} already exists")
            token = secrets.token_urlsafe(32)
            record = UserRecord(name, hash_token(token), admin, datetime.now(UTC).isoformat())
            self._write([*self._records.values(), record])
        return token

    def remove(self, name: str) -> None:
        """Revoke ``name``'s token for good, keeping the name as a tombstone."""
        with self._locked():
            old = self._records.get(name)
            if old is None or old.removed_at:
                raise InputError(f"No user named {name!r}")
            gone = msgspec.structs.replace(
                old, token_sha256="", removed_at=datetime.now(UTC).isoformat()
            )
            self._write([gone if u.name == name else u for u in self._records.values()])


def listed(records: Iterable[UserRecord], *, removed: bool) -> list[UserRecord]:
    """Users by name: the current ones, or the removed ones (kept as tombstones)."""
    return sorted((u for u in records if bool(u.removed_at) == removed), key=_name)


def digest_of(token: str | None) -> str:
    """The stored form of a presented token; AuthenticationError when none was presented."""
    if not token:
        raise AuthenticationError("A bearer token is required (Authorization: Bearer <token>)")
    return hash_token(token)


def principal_of(user: UserRecord | None, digest: str) -> Principal:
    """Who holds ``digest``, given the record a lookup found: compared in constant time,
    so an answer never depends on how much of a guessed token matched."""
    if user is None or not hmac.compare_digest(user.token_sha256, digest):
        raise AuthenticationError("The bearer token is not valid")
    return Principal(user.name, user.admin)


def _name(user: UserRecord) -> str:
    return user.name


_SEEN = "kiroku.principal"


def authenticated(
    scope: MutableMapping[str, object],
    token: str | None,
    authenticate: Callable[[str | None], Principal],
) -> Principal:
    """``authenticate(token)`` once per request (``scope``): a middleware that needs the
    user early (the per-user limits) and the endpoint share one token hash and lookup.
    Only a success is kept, and only for the same token; a refusal is asked again."""
    seen = scope.get(_SEEN)
    if isinstance(seen, tuple) and seen[0] == token:
        principal: Principal = seen[1]
        return principal
    principal = authenticate(token)
    scope[_SEEN] = (token, principal)
    return principal
