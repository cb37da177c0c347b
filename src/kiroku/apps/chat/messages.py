"""What a room remembers about its messages, at a constant cost per post.

The rules need three facts about a message: who wrote it, its place in the
room (for read marks) and whether it is deleted. Kept as a dict of small
objects copied on every post, a room of a million messages cost ~14 ms per
post and ~300 bytes per message; packed into arrays (``message_log``) a post
costs O(1) and a message ~50 bytes.

``Messages`` is an immutable view: a shared, append-only ``MessageLog`` and how
much of it the view sees (``count`` entries, ``gen`` changes). Extending the
newest view appends to the log in place, which older views cannot see;
extending an older view (a fold that branches, e.g. a retry after a lost race)
first copies the part it sees. So every view behaves as a value and
``evolve`` stays pure, while the common, linear case costs O(1).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from kiroku.apps.chat.message_log import FILLER, MessageLog, Packed, decode_id, encode_id

__all__ = ["MessageInfo", "Messages", "Packed"]


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What the rules need about a message: not its body, which only readers want."""

    author: str
    seq: int
    deleted: bool = False


class Messages(Mapping[str, MessageInfo]):
    """A room's messages as of one state: message id -> MessageInfo, immutable."""

    __slots__ = ("_count", "_gen", "_log")
    __hash__ = None  # type: ignore[assignment]  # a value with a mutable-looking shape

    def __init__(self, log: MessageLog | None = None, count: int = 0, gen: int = 0) -> None:
        self._log = log if log is not None else MessageLog()
        self._count = count
        self._gen = gen

    # -- reading ----------------------------------------------------------------

    def get(self, message_id: str, default: MessageInfo | None = None) -> MessageInfo | None:  # type: ignore[override]
        seq = self._log.find(encode_id(message_id), self._count)
        return default if seq == 0 else self._info(seq)

    def _info(self, seq: int) -> MessageInfo:
        log = self._log
        died = log.deleted.get(seq)
        return MessageInfo(
            log.authors[log.author_of[seq - 1]], seq, died is not None and died <= self._gen
        )

    def __getitem__(self, message_id: str) -> MessageInfo:
        info = self.get(message_id)
        if info is None:
            raise KeyError(message_id)
        return info

    def __contains__(self, message_id: object) -> bool:
        return isinstance(message_id, str) and self.get(message_id) is not None

    def __len__(self) -> int:
        """O(n): for tests and tools; the rules never count messages."""
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(True for _ in self)

    def __iter__(self) -> Iterator[str]:
        """Ids in posting order; a re-posted id at its newest place."""
        log = self._log
        for seq in range(1, self._count + 1):
            key = log.key(seq)
            if key != FILLER and log.find(key, self._count) == seq:
                yield decode_id(key)

    @property
    def posted(self) -> int:
        """How many MessagePosted events this view has seen."""
        return self._count

    def __repr__(self) -> str:
        return f"Messages({dict(self.items())!r})"

    # -- extending (each returns a new view) --------------------------------------

    def _tip(self) -> MessageLog:
        """The log this view may append to: its own if it is the newest view of it.

        An empty view never shares: ``Room.initial`` lives as long as the process,
        and must not keep the first room folded from it alive.
        """
        log = self._log
        if self._gen == 0 and self._count == 0:
            return MessageLog()
        if log.gen == self._gen and log.count == self._count:
            return log
        return log.fork(self._count, self._gen)

    def posting(self, message_id: str, author: str) -> Messages:
        with self._log.lock:
            log = self._tip()
            log.append(encode_id(message_id), author)
            log.gen += 1
            return Messages(log, log.count, log.gen)

    def deleting(self, message_id: str) -> Messages:
        """Deleted from this view on (a no-op for an unknown or deleted message)."""
        info = self.get(message_id)
        if info is None or info.deleted:
            return self
        with self._log.lock:
            log = self._tip()
            log.gen += 1
            log.deleted[info.seq] = log.gen
            return Messages(log, log.count, log.gen)

    # -- snapshots ----------------------------------------------------------------

    def packed(self) -> Packed:
        return self._log.pack(self._count, self._gen)

    @classmethod
    def unpacked(cls, packed: Packed) -> Messages:
        """Raises ValueError if the parts do not fit together."""
        log = MessageLog.unpack(packed)
        return cls(log, log.count, log.gen)

    @classmethod
    def of(cls, entries: list[tuple[str | None, str, bool]]) -> Messages:
        """A view of (id, author, deleted) in seq order; a None id holds a replaced place."""
        log = MessageLog()
        for message_id, author, deleted in entries:
            log.append(FILLER if message_id is None else encode_id(message_id), author)
            if deleted:
                log.gen = 1
                log.deleted[log.count] = 1
        return cls(log, log.count, log.gen)
