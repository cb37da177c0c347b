"""The generic HTTP pieces the chat API is built from: status by MRO, tokens, SSE
framing, and the OpenAPI document covering exactly the routes that exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.routing import Route

from kiroku import DomainError, NotFoundError, OverloadedError
from kiroku.api.auth import USERS_FILE, TokenStore, hash_token
from kiroku.api.problems import problem, status_of
from kiroku.api.sse import format_event
from kiroku.apps.chat import (
    http_corrections,
    http_live,
    http_ops,
    http_ops_app,
    http_read,
    http_write,
)
from kiroku.apps.chat.openapi import document
from kiroku.apps.chat.rules import (
    MessageNotFoundError,
    NotAuthorError,
    NotMemberError,
    RoomArchivedError,
    RoomNotFoundError,
)
from kiroku.errors import (
    AuthenticationError,
    InputError,
    KirokuError,
    ParkedEventError,
    PayloadTooLargeError,
    RetractionRefusedError,
    RetriesExhaustedError,
    WaitTimeoutError,
    WrongExpectedVersionError,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RoomNotFoundError("r"), 404),
        (MessageNotFoundError("r", "m"), 404),
        (NotMemberError("r", "eve"), 403),
        (NotAuthorError("r", "m", "ann", "bob"), 403),
        (RoomArchivedError("r"), 422),
        (DomainError("a rule"), 422),
        (InputError("bad"), 400),
        (PayloadTooLargeError(70_000, 65_536), 413),
        (AuthenticationError("who?"), 401),
        (WrongExpectedVersionError("room-1", 3, 4), 409),
        (OverloadedError("room-1", 10), 503),
        (WaitTimeoutError("chat.rooms", 3, "slow"), 503),
        (ParkedEventError("chat.rooms", 3, "stopped"), 503),
        (RetriesExhaustedError("room-1", 5), 409),
        (RetractionRefusedError(7, "already retracted"), 409),
        (NotFoundError("x"), 404),
        (KirokuError("x"), 500),
        (ValueError("a bug"), 500),
    ],
)
def test_the_most_specific_class_in_the_mro_picks_the_status(
    error: BaseException, status: int
) -> None:
    assert status_of(error) == status


def test_a_problem_document_carries_type_title_status_and_detail() -> None:
    response = problem(404, "No room 'r'", kind="room-not-found")
    assert response.media_type == "application/problem+json"
    assert json.loads(bytes(response.body)) == {
        "type": "urn:kiroku:problem:room-not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "No room 'r'",
    }


def test_tokens_are_stored_only_as_hashes(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    token = store.add("ann", admin=True)
    stored = (tmp_path / USERS_FILE).read_text()
    assert token not in stored
    assert hash_token(token) in stored
    assert store.authenticate(token).name == "ann"
    assert store.authenticate(token).admin


def test_a_user_added_elsewhere_is_seen_without_a_restart(tmp_path: Path) -> None:
    server_side = TokenStore(tmp_path)
    token = TokenStore(tmp_path).add("bob")  # as ``kiroku users add`` does, in another process
    assert server_side.authenticate(token).name == "bob"


def test_a_removed_user_is_refused(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    token = store.add("bob")
    TokenStore(tmp_path).remove("bob")
    store.refresh()  # what the server's watcher does every MAX_AGE seconds
    with pytest.raises(AuthenticationError):
        store.authenticate(token)


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
def test_missing_or_unknown_tokens_are_refused(tmp_path: Path, token: str | None) -> None:
    TokenStore(tmp_path).add("ann")
    with pytest.raises(AuthenticationError):
        TokenStore(tmp_path).authenticate(token)


@pytest.mark.parametrize("name", ["", "a b", "x" * 33, "ann/../x"])
def test_user_names_are_checked(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match="User name"):
        TokenStore(tmp_path).add(name)


def test_a_user_name_is_taken_once(tmp_path: Path) -> None:
    TokenStore(tmp_path).add("ann")
    with pytest.raises(InputError, match="already exists"):
        TokenStore(tmp_path).add("ann")


def test_an_sse_event_splits_multi_line_data() -> None:
    framed = format_event("one\ntwo", ident="7", event="chat.MessagePosted")
    assert framed == b"id: 7\nevent: chat.MessagePosted\ndata: one\ndata: two\n\n"


def _routes() -> set[tuple[str, str]]:
    found = set()
    modules = (http_write, http_read, http_live, http_ops, http_corrections)
    every = [r for m in modules for r in m.routes()] + http_ops_app.routes(with_me=False)
    for route in every:
        assert isinstance(route, Route)
        path = route.path.replace(":int}", "}")
        found |= {(path, m.lower()) for m in route.methods or () if m != "HEAD"}
    return found


def test_the_openapi_document_describes_exactly_the_routes_that_exist() -> None:
    paths = document()["paths"]
    assert isinstance(paths, dict)
    documented = {
        (path, method) for path, ops in paths.items() if isinstance(ops, dict) for method in ops
    }
    assert documented == _routes()
