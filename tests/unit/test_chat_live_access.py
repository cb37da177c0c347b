"""Where a room stream ends for its caller's removal (``live_access``), shared by the
publisher's chunks and the replay's pages."""

from __future__ import annotations

from kiroku.api.fanout import Listener
from kiroku.apps.chat.live_access import removals, removed_after_check
from kiroku.projections import Document


def doc(version: int, type: str, **data: str) -> Document:
    return {"version": version, "type": type, "data": dict(data)}


def listener(user: str, checked_at: int, *, admin: bool = False) -> Listener:
    found = Listener("room-1", user, admin=admin)
    found.checked_at = checked_at
    return found


def test_removals_name_each_removed_user_at_the_first_removal() -> None:
    docs = [
        doc(3, "chat.MessagePosted", user="ann"),
        doc(4, "chat.MemberRemoved", user="bob"),
        doc(5, "chat.MemberAdded", user="bob"),
        doc(6, "chat.MemberRemoved", user="bob"),
        doc(7, "chat.MemberRemoved", user="cy"),
    ]
    assert removals(docs) == {"bob": 4, "cy": 7}


def test_a_removal_after_the_access_check_ends_the_stream_there() -> None:
    assert removed_after_check(listener("bob", 3), {"bob": 4}) == 4


def test_a_removal_the_access_check_already_saw_does_not() -> None:
    assert removed_after_check(listener("bob", 4), {"bob": 4}) is None
    assert removed_after_check(listener("bob", 9), {"bob": 4}) is None


def test_another_users_removal_or_an_admins_stream_does_not() -> None:
    assert removed_after_check(listener("ann", 3), {"bob": 4}) is None
    assert removed_after_check(listener("bob", 3, admin=True), {"bob": 4}) is None
