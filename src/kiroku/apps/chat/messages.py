"""What a room remembers about its messages, at a constant cost per post.

The rules need three facts about a message: who wrote it, its place in the
room (for read marks) and whether it is deleted. Kept as a dict of small
objects copied on every post, a room of a million messages cost ~14 ms and
~300 bytes per message; here each fact is a few bytes in an array:

- ``ids``: the message ids end to end in one bytearray (a 32-digit hex id,
  what the API generates, packed into 16 bytes), ``ends`` where each one ends;
- ``authors``: an index into the room's distinct author names;
- ``deleted``: the (rare) deleted messages, with the generation they died at;
- an extendible hash from the id's hash to its position, whose buckets split
  one at a time, so no post ever pays to rehash the whole room.

``Messages`` is an immutable view: a shared, append-only ``_Log`` and how much
of it the view sees (``count`` entries, ``gen`` changes). Extending the newest
view appends to the log in place, which older views cannot see; extending an
older view (a fold that branches, e.g. a retry after a lost race) first copies
the part it sees. So every view behaves as a value and ``evolve`` stays pure,
while the common, linear case costs O(1).
"""

from __future__ import annotations

import sys
import threading
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["MessageInfo", "Messages"]

_BUCKET = 64  # entries a bucket holds before it splits: bounds a post's worst case
_HEX = frozenset("0123456789abcdef")
_FILLER = b"\x02"  # a place held by a message a re-post replaced; never looked up


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What the rules need about a message: not its body, which only readers want."""

    author: str
    seq: int
    deleted: bool = False


def encode_id(message_id: str) -> bytes:
    """A message id as stored: hex ids in half the space, any other id as UTF-8."""
    if len(message_id) == 32 and _HEX.issuperset(message_id):
        return b"\x01" + bytes.fromhex(message_id)
    return b"\x00" + message_id.encode("utf-8", "surrogatepass")


def decode_id(key: bytes) -> str:
    return key[1:].hex() if key[:1] == b"\x01" else key[1:].decode("utf-8", "surrogatepass")


class _Bucket:
    __slots__ = ("depth", "hashes", "seqs")

    def __init__(self, depth: int, hashes: array[int], seqs: array[int]) -> None:
        self.depth = depth
        self.hashes = hashes
        self.seqs = seqs


class _Log:
    """The shared storage behind views; only the view at its tip may extend it."""

    def __init__(self) -> None:
        self.ids = bytearray()
        self.ends: array[int] = array("Q", [0])
        self.author_of: array[int] = array("I")
        self.authors: list[str] = []
        self.author_index: dict[str, int] = {}
        self.deleted: dict[int, int] = {}  # seq -> the generation it was deleted at
        self.gen = 0
        self.depth = 0
        self.directory: list[_Bucket] = [_Bucket(0, array("q"), array("I"))]
        self.lock = threading.Lock()

    @property
    def count(self) -> int:
        return len(self.author_of)

    def key(self, seq: int) -> bytes:
        return bytes(self.ids[self.ends[seq - 1] : self.ends[seq]])

    def holds(self, seq: int, key: bytes) -> bool:
        return self.ids[self.ends[seq - 1] : self.ends[seq]] == key

    def find(self, key: bytes, visible: int) -> int:
        """The newest seq <= ``visible`` holding ``key``, or 0."""
        h = hash(key)
        bucket = self.directory[h & ((1 << self.depth) - 1)]
        hashes, found, start = bucket.hashes, 0, 0
        while True:
            try:
                i = hashes.index(h, start)
            except ValueError:
                return found
            seq = bucket.seqs[i]
            if found < seq <= visible and self.holds(seq, key):
                found = seq
            start = i + 1

    def append(self, key: bytes, author: str) -> None:
        self.ids += key
        self.ends.append(len(self.ids))
        index = self.author_index.get(author)
        if index is None:
            index = self.author_index[author] = len(self.authors)
            self.authors.append(author)
        self.author_of.append(index)
        if key != _FILLER:
            self.insert(hash(key), self.count)

    def insert(self, h: int, seq: int) -> None:
        bucket = self.directory[h & ((1 << self.depth) - 1)]
        # A bucket whose entries all share one hash (one id posted again and again)
        # cannot be split apart: it just grows.
        while len(bucket.hashes) >= _BUCKET and bucket.hashes.count(bucket.hashes[0]) < len(
            bucket.hashes
        ):
            self.split(bucket)
            bucket = self.directory[h & ((1 << self.depth) - 1)]
        bucket.hashes.append(h)
        bucket.seqs.append(seq)

    def split(self, bucket: _Bucket) -> None:
        """Split one full bucket by its next hash bit (doubling the directory if needed)."""
        if bucket.depth == self.depth:
            self.directory += self.directory
            self.depth += 1
        bit = 1 << bucket.depth
        prefix = bucket.hashes[0] & (bit - 1)
        low = _Bucket(bucket.depth + 1, array("q"), array("I"))
        high = _Bucket(bucket.depth + 1, array("q"), array("I"))
        for h, seq in zip(bucket.hashes, bucket.seqs, strict=True):
            side = high if h & bit else low
            side.hashes.append(h)
            side.seqs.append(seq)
        step = bit << 1
        for i in range(prefix, len(self.directory), step):
            self.directory[i] = low
            self.directory[i + bit] = high

    def fork(self, count: int, gen: int) -> _Log:
        """A private copy of what a view at (``count``, ``gen``) sees."""
        log = _Log()
        log.ids = bytearray(self.ids[: self.ends[count]])
        log.ends = self.ends[: count + 1]
        log.author_of = self.author_of[:count]
        log.authors = list(self.authors)
        log.author_index = dict(self.author_index)
        log.deleted = {s: g for s, g in self.deleted.items() if g <= gen}
        log.gen = gen
        # Copying the buckets as they are keeps entries past ``count``; ``find``
        # verifies every hit against the ids, so such an entry can only ever point
        # at a later re-post of the same id, which is then a true hit.
        log.depth = self.depth
        copies: dict[int, _Bucket] = {}
        for b in self.directory:
            if id(b) not in copies:
                copies[id(b)] = _Bucket(b.depth, b.hashes[:], b.seqs[:])
        log.directory = [copies[id(b)] for b in self.directory]
        return log


class Messages(Mapping[str, MessageInfo]):
    """A room's messages as of one state: message id -> MessageInfo, immutable."""

    __slots__ = ("_count", "_gen", "_log")
    __hash__ = None  # type: ignore[assignment]  # a value with a mutable-looking shape

    def __init__(self, log: _Log | None = None, count: int = 0, gen: int = 0) -> None:
        self._log = log if log is not None else _Log()
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
            if key != _FILLER and log.find(key, self._count) == seq:
                yield decode_id(key)

    @property
    def posted(self) -> int:
        """How many MessagePosted events this view has seen."""
        return self._count

    def __repr__(self) -> str:
        return f"Messages({dict(self.items())!r})"

    # -- extending (each returns a new view) --------------------------------------

    def _tip(self) -> _Log:
        """The log this view may append to: its own if it is the newest view of it."""
        log = self._log
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

    def packed(self) -> tuple[bytes, bytes, bytes, list[str], list[int]]:
        """(ids, ends, author_of, authors, deleted seqs): little-endian arrays as bytes."""
        log, n = self._log, self._count
        ends, author_of = log.ends[1 : n + 1], log.author_of[:n]
        if sys.byteorder == "big":
            ends.byteswap()
            author_of.byteswap()
        dead = sorted(s for s, g in log.deleted.items() if g <= self._gen and s <= n)
        ids = bytes(memoryview(log.ids)[: log.ends[n]])
        return ids, ends.tobytes(), author_of.tobytes(), list(log.authors), dead

    @classmethod
    def unpacked(
        cls, ids: bytes, ends: bytes, author_of: bytes, authors: list[str], deleted: list[int]
    ) -> Messages:
        log = _Log()
        log.ids = bytearray(ids)
        log.ends.frombytes(ends)
        log.author_of.frombytes(author_of)
        if sys.byteorder == "big":
            log.ends.byteswap()
            log.author_of.byteswap()
        n = len(log.author_of)
        if len(log.ends) != n + 1 or log.ends[n] != len(ids):
            raise ValueError("the snapshot's message ids and their ends disagree")
        if n and max(log.author_of) >= len(authors):
            raise ValueError("the snapshot names an author it does not list")
        log.authors = list(authors)
        log.author_index = {a: i for i, a in enumerate(authors)}
        log.gen = 1 if deleted else 0
        log.deleted = dict.fromkeys(deleted, 1)
        starts, stops = log.ends[:-1], log.ends[1:]
        for seq, (a, b) in enumerate(zip(starts, stops, strict=True), 1):
            key = ids[a:b]
            if key != _FILLER:
                log.insert(hash(key), seq)
        return cls(log, n, log.gen)

    @classmethod
    def of(cls, entries: list[tuple[str | None, str, bool]]) -> Messages:
        """A view of (id, author, deleted) in seq order; a None id holds a replaced place."""
        log = _Log()
        for message_id, author, deleted in entries:
            log.append(_FILLER if message_id is None else encode_id(message_id), author)
            if deleted:
                log.gen = 1
                log.deleted[log.count] = 1
        return cls(log, log.count, log.gen)
