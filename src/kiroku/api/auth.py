"""Bearer tokens: issued once, stored only as hashes, in the data directory.

A token is 32 random bytes (256 bits) from ``secrets``, shown to the operator
once. The file keeps SHA-256 of it. A fast, unsalted hash is the right tool
here, unlike for passwords: with 2**256 possible tokens nothing can be guessed
or precomputed, so a slow hash would only slow every request while protecting
nothing. A leaked ``users.json`` therefore reveals names, never usable tokens.

The file is rewritten atomically (temporary file + rename) under a lock file,
and a running server re-reads it when it changes (one ``stat`` per request), so
``kiroku users add`` and ``remove`` take effect while the server runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from kiroku.errors import AuthenticationError, ConfigError, InputError

__all__ = ["USERS_FILE", "Principal", "TokenStore", "UserRecord", "hash_token", "valid_user_name"]

USERS_FILE = "users.json"
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}\Z")


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
        self._by_hash: dict[str, UserRecord] = {}
        self._by_name: dict[str, UserRecord] = {}
        self._stamp: tuple[int, int] | None = None
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
            raise ConfigError(f"{self.path} is not a valid users file: {e}") from e

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload(self) -> None:
        self._stamp = self._current_stamp()
        users = self._read()
        self._by_hash = {u.token_sha256: u for u in users}
        self._by_name = {u.name: u for u in users}

    def _refresh(self) -> None:
        if self._current_stamp() != self._stamp:
            self.reload()

    def users(self) -> list[UserRecord]:
        self._refresh()
        return sorted(self._by_name.values(), key=lambda u: u.name)

    def exists(self, name: str) -> bool:
        self._refresh()
        return name in self._by_name

    def authenticate(self, token: str | None) -> Principal:
        """The user holding ``token``; AuthenticationError if none does."""
        if not token:
            raise AuthenticationError("A bearer token is required (Authorization: Bearer <token>)")
        digest = hash_token(token)
        self._refresh()  # one stat(): users added or removed since are honoured at once
        user = self._by_hash.get(digest)
        if user is None or not hmac.compare_digest(user.token_sha256, digest):
            raise AuthenticationError("The bearer token is not valid")
        return Principal(user.name, user.admin)

    # -- writing ------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self.reload()
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
            if name in self._by_name:
                raise InputError(f"User {name!r} already exists")
            token = secrets.token_urlsafe(32)
            record = UserRecord(name, hash_token(token), admin, datetime.now(UTC).isoformat())
            self._write([*self._by_name.values(), record])
        return token

    def remove(self, name: str) -> None:
        with self._locked():
            if name not in self._by_name:
                raise InputError(f"No user named {name!r}")
            self._write([u for u in self._by_name.values() if u.name != name])
