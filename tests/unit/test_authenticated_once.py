"""A request authenticates its token once: the per-user limits and the endpoint
share the answer, and nothing else is shared."""

from __future__ import annotations

import pytest

from kiroku.api.auth import Principal, authenticated
from kiroku.errors import AuthenticationError


class Counting:
    def __init__(self) -> None:
        self.calls: list[str | None] = []

    def __call__(self, token: str | None) -> Principal:
        self.calls.append(token)
        if token != "good":
            raise AuthenticationError("The bearer token is not valid")
        return Principal("ann", False)


def test_the_same_token_in_one_request_is_checked_once() -> None:
    scope: dict[str, object] = {}
    check = Counting()
    assert authenticated(scope, "good", check) == authenticated(scope, "good", check)
    assert check.calls == ["good"]


def test_another_request_or_another_token_is_checked_again() -> None:
    check = Counting()
    authenticated({}, "good", check)
    authenticated({}, "good", check)
    scope: dict[str, object] = {}
    authenticated(scope, "good", check)
    with pytest.raises(AuthenticationError):
        authenticated(scope, "bad", check)
    assert check.calls == ["good", "good", "good", "bad"]


def test_a_refusal_is_not_remembered() -> None:
    scope: dict[str, object] = {}
    check = Counting()
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            authenticated(scope, "bad", check)
    assert check.calls == ["bad", "bad"]
