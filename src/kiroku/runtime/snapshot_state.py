"""Reading a snapshot back: in the decider's current shape, upcast step by step
through ``Decider.snapshot_upcasters``, or not at all.

A snapshot that cannot be read is never an error here: the caller folds the
state from the events instead, and only the recovery decides whether those are
still there.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from kiroku.domain.decider import Decider
from kiroku.errors import DecodeError, SchemaError
from kiroku.journal.protocol import Snapshot
from kiroku.schema.codec import Codec, decode_json, encode_json

__all__ = ["usable_state"]

log = logging.getLogger("kiroku.runtime.recovery")  # one name for all of recovery's log lines

S = TypeVar("S")


def usable_state(
    stream: str, decider: Decider[S, Any, Any], codec: Codec, snapshot: Snapshot
) -> S | None:
    """The snapshot's state in the decider's current shape, or None to rebuild from events."""
    wanted = decider.state_version
    try:
        if snapshot.state_version == wanted:
            return _restore(decider, codec, snapshot.data)
        return _upcast(stream, decider, codec, snapshot, wanted)
    except SchemaError as e:
        log.warning(
            "stream %s: snapshot at version %d is unreadable (%s); rebuilding from events",
            stream,
            snapshot.version,
            e,
        )
        return None


def _upcast(
    stream: str, decider: Decider[S, Any, Any], codec: Codec, snapshot: Snapshot, wanted: int
) -> S | None:
    steps = decider.snapshot_upcasters
    have = snapshot.state_version
    if have > wanted or any(v not in steps for v in range(have, wanted)):
        log.info(
            "stream %s: snapshot at version %d has state_version %d, the decider is at %d "
            "with no upcaster for it; ignoring it and rebuilding from events",
            stream,
            snapshot.version,
            have,
            wanted,
        )
        return None
    raw = decode_json(snapshot.data)
    for v in range(have, wanted):
        if not isinstance(raw, dict):
            return None
        try:
            raw = steps[v](raw)
        except Exception as e:
            log.warning(
                "stream %s: snapshot upcaster v%d->v%d failed (%s: %s); rebuilding from events",
                stream,
                v,
                v + 1,
                type(e).__name__,
                e,
            )
            return None
    log.info(
        "stream %s: upcast snapshot at version %d from state_version %d to %d",
        stream,
        snapshot.version,
        have,
        wanted,
    )
    return _restore(decider, codec, encode_json(raw))


def _restore(decider: Decider[S, Any, Any], codec: Codec, data: bytes) -> S:
    stored = codec.decode_state(data, decider.snapshot_type)
    try:
        return decider.from_snapshot(stored)
    except (TypeError, ValueError) as e:
        raise DecodeError(decider.snapshot_type.__qualname__, 0, None, str(e)) from e
