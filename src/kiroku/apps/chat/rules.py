"""The room's business rules as errors: each rejection a class, each message the values.

The HTTP layer maps these by their bases: NotFoundError -> 404, NotAllowedError
-> 403, any other DomainError -> 422.
"""

from __future__ import annotations

from kiroku import DomainError, NotAllowedError, NotFoundError

__all__ = [
    "MAX_BODY",
    "MAX_NAME",
    "AlreadyMemberError",
    "DuplicateMessageError",
    "InvalidTextError",
    "LastOwnerError",
    "MemberNotFoundError",
    "MessageDeletedError",
    "MessageNotFoundError",
    "NotAuthorError",
    "NotMemberError",
    "NotOwnerError",
    "RoomArchivedError",
    "RoomExistsError",
    "RoomNotFoundError",
    "UnknownUserError",
    "check_text",
]

MAX_NAME = 100
MAX_BODY = 10_000


class RoomNotFoundError(NotFoundError, DomainError):
    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        super().__init__(f"No room {room_id!r}")


class MessageNotFoundError(NotFoundError, DomainError):
    def __init__(self, room_id: str, message_id: str) -> None:
        self.room_id = room_id
        self.message_id = message_id
        super().__init__(f"No message {message_id!r} in room {room_id!r}")


class RoomExistsError(DomainError):
    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        super().__init__(f"Room {room_id!r} already exists")


class NotMemberError(NotAllowedError):
    def __init__(self, room_id: str, user: str) -> None:
        self.room_id = room_id
        self.user = user
        super().__init__(f"{user!r} is not a member of room {room_id!r}")


class NotOwnerError(NotAllowedError):
    def __init__(self, room_id: str, user: str, action: str) -> None:
        self.room_id = room_id
        self.user = user
        super().__init__(f"Only the owner of room {room_id!r} may {action}; {user!r} is not")


class NotAuthorError(NotAllowedError):
    def __init__(self, room_id: str, message_id: str, user: str, author: str) -> None:
        self.message_id = message_id
        self.user = user
        super().__init__(
            f"{user!r} may not change message {message_id!r} in room {room_id!r}: "
            f"it was written by {author!r}"
        )


class RoomArchivedError(DomainError):
    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        super().__init__(f"Room {room_id!r} is archived and accepts no more changes")


class AlreadyMemberError(DomainError):
    def __init__(self, room_id: str, user: str) -> None:
        self.user = user
        super().__init__(f"{user!r} is already a member of room {room_id!r}")


class LastOwnerError(DomainError):
    def __init__(self, room_id: str, user: str) -> None:
        self.user = user
        super().__init__(f"{user!r} is the last owner of room {room_id!r} and cannot be removed")


class MessageDeletedError(DomainError):
    def __init__(self, room_id: str, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(f"Message {message_id!r} in room {room_id!r} is deleted")


class DuplicateMessageError(DomainError):
    def __init__(self, room_id: str, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(
            f"Message id {message_id!r} is already used in room {room_id!r} by another message"
        )


class InvalidTextError(DomainError):
    def __init__(self, what: str, length: int, limit: int) -> None:
        self.what = what
        self.length = length
        self.limit = limit
        super().__init__(
            f"A {what} must be 1 to {limit} characters (not only spaces); got {length}"
        )


def check_text(what: str, text: str, limit: int) -> None:
    """Reject empty, blank or over-long ``text``."""
    if not text.strip() or len(text) > limit:
        raise InvalidTextError(what, len(text), limit)


class MemberNotFoundError(NotFoundError, DomainError):
    def __init__(self, room_id: str, user: str) -> None:
        self.room_id = room_id
        self.user = user
        super().__init__(f"{user!r} is not a member of room {room_id!r}")


class UnknownUserError(DomainError):
    """A command names a user nobody created (checked by the API, which knows the users)."""

    def __init__(self, user: str) -> None:
        self.user = user
        super().__init__(f"No user named {user!r}")
