"""Ids for the hot path: time-ordered, and without a system call per id.

Time-ordered (UUID version 7, RFC 9562): the journal indexes ``event_id``, and a
random id lands each new event in a random leaf of that index, so a group
commit of N events rewrote about N index pages, and once the index outgrew the
page cache each append read a page from disk first. An id that starts with the
time lands where the previous one did: a commit touches one or two index pages
however many events it holds. Read models keyed by a message id (``room:id``)
gain the same way. The time in an id is no secret: every event carries its
``occurred_at`` beside it.

No system call: ``uuid.uuid4()`` reads ``os.urandom``, a system call that
releases the GIL. On a busy runtime the journal's writer thread then holds the
GIL, and getting it back can take up to the interpreter's switch interval
(5 ms) — per id. Ids need uniqueness, not secrecy (no access is granted by
knowing one), so their random part comes from a private generator seeded from
``os.urandom`` once per process (and again in a forked child, so parent and
child never share a sequence). The journal's UNIQUE constraint on
``event_id`` remains the final guard.
"""

from __future__ import annotations

import os
import random
import time
import uuid

__all__ = ["id_at", "new_event_id", "new_id"]

_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)

_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62  # RFC 9562's variant
_SLOTS = 4096  # the 12 bits after the milliseconds: a finer time (244 ns steps)

_new = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def new_id() -> uuid.UUID:
    """A time-ordered (version 7) UUID, from now and the private generator."""
    return id_at(time.time_ns(), _rng.getrandbits(62))


def id_at(ns: int, bits: int) -> uuid.UUID:
    """The version 7 UUID of Unix time ``ns`` (nanoseconds) and 62 random ``bits``:
    48 bits of milliseconds, 12 bits of the millisecond's fraction (RFC 9562's
    "increased clock precision"), then the random bits.

    Built as ``uuid.UUID.__init__`` builds one from ``int=``, minus its argument
    checks (a third of the cost; the value is in range by construction).
    """
    ms, within = divmod(ns, 1_000_000)
    fraction = within * _SLOTS // 1_000_000
    value = _new(uuid.UUID)
    _set(value, "int", (ms << 80) | _VERSION_7 | (fraction << 64) | _VARIANT | bits)
    _set(value, "is_safe", _UNKNOWN)
    return value


new_event_id = new_id
"""An event's id (``new_id``): the runtime's name for it."""
