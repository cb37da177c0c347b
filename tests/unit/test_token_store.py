"""The users file as the server sees it: removed names stay taken, a damaged file is
refused on every use until it is whole again, and changes are noticed without a
``stat`` per request."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiroku.api.auth import MAX_AGE, USERS_FILE, TokenStore
from kiroku.errors import AuthenticationError, InputError, UserStoreError


def test_a_removed_name_is_never_issued_again(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.add("bob")
    store.remove("bob")
    with pytest.raises(InputError, match="was removed"):
        store.add("bob")
    assert [u.name for u in store.removed()] == ["bob"]
    assert store.users() == []
    assert not store.exists("bob")


def test_a_removed_user_keeps_no_token(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    token = store.add("bob")
    store.remove("bob")
    assert store.removed()[0].token_sha256 == ""
    with pytest.raises(AuthenticationError):
        store.authenticate(token)
    with pytest.raises(InputError, match="No user"):
        store.remove("bob")  # removing twice is refused, the tombstone stays


def test_an_old_file_without_tombstones_still_reads(tmp_path: Path) -> None:
    (tmp_path / USERS_FILE).write_text(
        '{"users": [{"name": "ann", "token_sha256": "ab", "admin": true}]}'
    )
    assert [u.name for u in TokenStore(tmp_path).users()] == ["ann"]


@pytest.mark.parametrize("garbage", [b"\x00\xff", b"}", b'{"users": [{"name": 1}]}'])
def test_a_damaged_file_is_refused_on_every_use_until_it_is_whole(
    tmp_path: Path, garbage: bytes
) -> None:
    store = TokenStore(tmp_path)
    token = store.add("ann")
    path = tmp_path / USERS_FILE
    good = path.read_bytes()
    path.write_bytes(good + garbage if garbage != b"}" else good[:-3])
    store.refresh()
    for _ in range(3):  # every request, not only the first: the old list is not served
        with pytest.raises(UserStoreError):
            store.authenticate(token)
    with pytest.raises(UserStoreError):
        store.exists("ann")
    with pytest.raises(UserStoreError):
        TokenStore(tmp_path).add("bob")  # a damaged file is never rewritten from a partial read
    path.write_bytes(good)
    store.refresh()
    assert store.authenticate(token).name == "ann"


def test_every_change_moves_the_counter(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    before = store.changes
    TokenStore(tmp_path).add("ann")
    store.refresh()
    added = store.changes
    assert added > before
    store.refresh()
    assert store.changes == added  # nothing changed, nothing counted
    (tmp_path / USERS_FILE).write_text("not json")
    store.refresh()
    assert store.changes > added
    assert store.unreadable is not None


def test_a_token_added_elsewhere_works_at_once_and_known_ones_skip_the_file(
    tmp_path: Path,
) -> None:
    store = TokenStore(tmp_path)
    ann = store.add("ann")
    store.authenticate(ann)
    (tmp_path / USERS_FILE).write_text("damaged")
    assert store.authenticate(ann).name == "ann"  # within MAX_AGE: answered from memory
    time.sleep(MAX_AGE)
    with pytest.raises(UserStoreError):
        store.authenticate(ann)  # past MAX_AGE the file is looked at again


def test_a_removal_elsewhere_is_honoured_within_max_age(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    bob = store.add("bob")
    store.authenticate(bob)
    TokenStore(tmp_path).remove("bob")
    time.sleep(MAX_AGE)
    with pytest.raises(AuthenticationError):
        store.authenticate(bob)


def test_the_store_error_is_unavailable_not_unauthorized() -> None:
    from kiroku.api.problems import status_of

    assert status_of(UserStoreError("x")) == 503
