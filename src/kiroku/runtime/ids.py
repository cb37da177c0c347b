"""Event ids for the hot path, without a system call per id.

``uuid.uuid4()`` reads ``os.urandom``, a system call that releases the GIL. On a
busy runtime the journal's writer thread then holds the GIL, and getting it back
can take up to the interpreter's switch interval (5 ms) — per event. Event ids
need uniqueness, not secrecy, so they come from a private generator seeded from
``os.urandom`` once per process (and again in a forked child, so parent and
child never share a sequence). The journal's UNIQUE constraint on ``event_id``
remains the final guard.
"""

from __future__ import annotations

import os
import random
import uuid

__all__ = ["new_event_id"]

_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)

_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_SET = (0x8000 << 48) | (0x4000 << 64)  # RFC 4122 variant, version 4


_new = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def new_event_id() -> uuid.UUID:
    """A random (version 4) UUID.

    Built as ``uuid.UUID.__init__`` builds one from ``int=``, minus its argument
    checks (a third of the cost; the value is in range by construction).
    """
    value = _new(uuid.UUID)
    _set(value, "int", (_rng.getrandbits(128) & _CLEAR) | _SET)
    _set(value, "is_safe", _UNKNOWN)
    return value
