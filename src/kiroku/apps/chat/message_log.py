"""The storage behind ``Messages``: packed arrays, and an index that never rehashes.

- ``ids``: the message ids end to end in one bytearray (a 32-digit hex id, what
  the API generates, packed into 16 bytes), ``ends`` where each one ends;
- ``author_of``: an index into the room's distinct author names;
- ``deleted``: the (rare) deleted messages, with the generation they died at;
- an extendible hash from a 64-bit BLAKE2b of the id to its seq: buckets of at
  most ``BUCKET`` entries split one at a time, so no post ever pays to rehash
  the whole room, and a lookup is one ``array.index`` in C. The hash is
  deterministic, so a snapshot stores the buckets as they are and loading a
  room is a few slices per bucket, not a hash per message.

Only the newest view of a log appends to it (see ``Messages``); ``gen`` counts
the changes, so a view knows whether it is the newest.
"""

from __future__ import annotations

import sys
import threading
from array import array
from dataclasses import dataclass
from hashlib import blake2b

__all__ = ["BUCKET", "FILLER", "MessageLog", "Packed", "decode_id", "encode_id"]

BUCKET = 64  # entries a bucket holds before it splits: bounds a post's worst case
FILLER = b"\x02"  # a place held by a message a re-post replaced; never looked up
_HEX = frozenset("0123456789abcdef")


def encode_id(message_id: str) -> bytes:
    """A message id as stored: hex ids in half the space, any other id as UTF-8."""
    if len(message_id) == 32 and _HEX.issuperset(message_id):
        return b"\x01" + bytes.fromhex(message_id)
    return b"\x00" + message_id.encode("utf-8", "surrogatepass")


def decode_id(key: bytes) -> str:
    return key[1:].hex() if key[:1] == b"\x01" else key[1:].decode("utf-8", "surrogatepass")


def hash_of(key: bytes) -> int:
    return int.from_bytes(blake2b(key, digest_size=8).digest(), "little", signed=True)


class Bucket:
    __slots__ = ("depth", "hashes", "seqs")

    def __init__(self, depth: int, hashes: array[int], seqs: array[int]) -> None:
        self.depth = depth
        self.hashes = hashes
        self.seqs = seqs


@dataclass(frozen=True, slots=True)
class Packed:
    """A view of a log as bytes: little-endian int64/uint32/uint64 arrays.

    ``bucket_depths`` and ``bucket_sizes`` list the index's buckets in the order
    they first appear in the directory; ``hashes``/``seqs`` are their entries.
    """

    ids: bytes
    ends: bytes
    author_of: bytes
    authors: list[str]
    deleted: list[int]
    depth: int
    bucket_depths: bytes
    bucket_sizes: bytes
    hashes: bytes
    seqs: bytes


def _le(a: array[int]) -> bytes:
    if sys.byteorder == "big":
        a = a[:]
        a.byteswap()
    return a.tobytes()


def _array(code: str, data: bytes) -> array[int]:
    a = array(code)
    a.frombytes(data)
    if sys.byteorder == "big":
        a.byteswap()
    return a


class MessageLog:
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
        self.directory: list[Bucket] = [Bucket(0, array("q"), array("I"))]
        self.lock = threading.Lock()

    @property
    def count(self) -> int:
        return len(self.author_of)

    def key(self, seq: int) -> bytes:
        return bytes(self.ids[self.ends[seq - 1] : self.ends[seq]])

    def holds(self, seq: int, key: bytes) -> bool:
        return self.ids[self.ends[seq - 1] : self.ends[seq]] == key

    def find(self, key: bytes, visible: int) -> int:
        """The newest seq <= ``visible`` holding ``key``, or 0.

        Entries past ``visible`` (appended for a newer view) are skipped, and a hit
        is checked against the stored id, so a hash collision is never a match.
        """
        h = hash_of(key)
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
        if key != FILLER:
            self.insert(hash_of(key), self.count)

    def insert(self, h: int, seq: int) -> None:
        bucket = self.directory[h & ((1 << self.depth) - 1)]
        while len(bucket.hashes) >= BUCKET and self._splittable(bucket):
            self.split(bucket)
            bucket = self.directory[h & ((1 << self.depth) - 1)]
        bucket.hashes.append(h)
        bucket.seqs.append(seq)

    def _splittable(self, bucket: Bucket) -> bool:
        """Not a bucket of one hash (one id posted again and again), and no doubling
        of the directory beyond what the entries justify (ids crafted to share
        their hashes' low bits): such a bucket just grows."""
        if bucket.hashes.count(bucket.hashes[0]) == len(bucket.hashes):
            return False
        return bucket.depth < self.depth or len(self.directory) <= 4 * (self.count // BUCKET + 1)

    def split(self, bucket: Bucket) -> None:
        """Split one full bucket by its next hash bit (doubling the directory if needed)."""
        if bucket.depth == self.depth:
            self.directory += self.directory
            self.depth += 1
        bit = 1 << bucket.depth
        prefix = bucket.hashes[0] & (bit - 1)
        low = Bucket(bucket.depth + 1, array("q"), array("I"))
        high = Bucket(bucket.depth + 1, array("q"), array("I"))
        for h, seq in zip(bucket.hashes, bucket.seqs, strict=True):
            side = high if h & bit else low
            side.hashes.append(h)
            side.seqs.append(seq)
        step = bit << 1
        for i in range(prefix, len(self.directory), step):
            self.directory[i] = low
            self.directory[i + bit] = high

    def fork(self, count: int, gen: int) -> MessageLog:
        """A private copy of what a view at (``count``, ``gen``) sees."""
        log = MessageLog()
        log.ids = bytearray(self.ids[: self.ends[count]])
        log.ends = self.ends[: count + 1]
        log.author_of = self.author_of[:count]
        log.authors = list(self.authors)
        log.author_index = dict(self.author_index)
        log.deleted = {s: g for s, g in self.deleted.items() if g <= gen}
        log.gen = gen
        # Entries past ``count`` stay in the copied buckets: ``find`` skips them
        # until a later append reuses their seq, and then checks the stored id.
        log.depth = self.depth
        copies = {id(b): Bucket(b.depth, b.hashes[:], b.seqs[:]) for b in _distinct(self.directory)}
        log.directory = [copies[id(b)] for b in self.directory]
        return log

    # -- snapshots -------------------------------------------------------------------

    def pack(self, count: int, gen: int) -> Packed:
        """The view at (``count``, ``gen``) as bytes; safe on another thread.

        The snapshotter may pack while the actor appends for newer views. The
        directory and the deletions are copied under the lock appends take;
        everything else is read one C call at a time, and entries with a seq past
        ``count`` (appended since) are left out. A bucket split later is not
        changed: its replacements are new objects.
        """
        with self.lock:
            directory, depth = list(self.directory), self.depth
            deleted = sorted(s for s, g in self.deleted.items() if g <= gen and s <= count)
        buckets = _distinct(directory)
        hashes, seqs, sizes = array("q"), array("I"), array("I")
        for b in buckets:
            m = len(b.seqs)  # appends add the hash first, so hashes has at least m
            h, q = b.hashes[:m], b.seqs[:m]
            if m and max(q) > count:  # holds entries appended for a newer view
                kept = [(x, y) for x, y in zip(h, q, strict=True) if y <= count]
                h, q = array("q", [x for x, _ in kept]), array("I", [y for _, y in kept])
            hashes += h
            seqs += q
            sizes.append(len(q))
        return Packed(
            # a slice copies in one C call; a memoryview would be an export that makes
            # the actor's next ``ids +=`` fail with BufferError while it lives
            ids=bytes(self.ids[: self.ends[count]]),
            ends=_le(self.ends[1 : count + 1]),
            author_of=_le(self.author_of[:count]),
            authors=self.authors[: max(self.author_of[:count], default=-1) + 1],
            deleted=deleted,
            depth=depth,
            bucket_depths=bytes(b.depth for b in buckets),
            bucket_sizes=_le(sizes),
            hashes=_le(hashes),
            seqs=_le(seqs),
        )

    @classmethod
    def unpack(cls, p: Packed) -> MessageLog:
        """Raises ValueError if the parts do not fit together (a damaged snapshot)."""
        log = cls()
        log.ids = bytearray(p.ids)
        log.ends.frombytes(p.ends)  # after the leading 0
        if sys.byteorder == "big":
            log.ends.byteswap()
        log.author_of = _array("I", p.author_of)
        n = log.count
        if len(log.ends) != n + 1 or log.ends[n] != len(p.ids):
            raise ValueError("the message ids and their ends disagree")
        if n and max(log.author_of) >= len(p.authors):
            raise ValueError("an author index points past the authors")
        if any(not 0 < s <= n for s in p.deleted):
            raise ValueError("a deleted seq is out of range")
        log.authors = list(p.authors)
        log.author_index = {a: i for i, a in enumerate(p.authors)}
        log.gen = 1 if p.deleted else 0
        log.deleted = dict.fromkeys(p.deleted, 1)
        log.depth, log.directory = p.depth, _directory(p)
        return log


def _distinct(directory: list[Bucket]) -> list[Bucket]:
    """Each bucket once, in the order it first appears in the directory."""
    seen: set[int] = set()
    out = []
    for b in directory:
        if id(b) not in seen:
            seen.add(id(b))
            out.append(b)
    return out


def _directory(p: Packed) -> list[Bucket]:
    hashes, seqs, sizes = _array("q", p.hashes), _array("I", p.seqs), _array("I", p.bucket_sizes)
    entries = len(seqs)
    if len(hashes) != entries or sum(sizes) != entries or len(sizes) != len(p.bucket_depths):
        raise ValueError("the index's buckets and entries disagree")
    if entries and (min(seqs) < 1 or max(seqs) > len(p.ends) // 8):
        raise ValueError("an index entry points past the messages")
    if not 0 <= p.depth <= 40:
        raise ValueError(f"an index depth of {p.depth}")
    size = 1 << p.depth
    directory: list[Bucket | None] = [None] * size
    at, start = 0, 0
    for depth, count in zip(p.bucket_depths, sizes, strict=True):
        while at < size and directory[at] is not None:
            at += 1
        if at >= size or depth > p.depth or at >= 1 << depth:
            raise ValueError("the index's buckets do not tile its directory")
        bucket = Bucket(depth, hashes[start : start + count], seqs[start : start + count])
        directory[at :: 1 << depth] = [bucket] * (size >> depth)
        start += count
    if any(b is None for b in directory) or len({id(b) for b in directory}) != len(sizes):
        raise ValueError("the index's buckets do not tile its directory")
    return directory  # type: ignore[return-value]  # every slot checked just above
