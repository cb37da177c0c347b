"""Where an event goes on the bus: ``<prefix>.<category>.<partition>``.

The partition is a stable hash of the stream id (CRC-32, the same in every
process and Python version, unlike ``hash()``), so all events of one stream land
in one partition, in order, and a projection can be split across processes by
partition without two of them sharing a stream.
"""

from __future__ import annotations

import re
import zlib

from kiroku.domain.envelope import StoredEvent

__all__ = ["DEFAULT_PARTITIONS", "partition_of", "subject_of", "token"]

DEFAULT_PARTITIONS = 16
_UNSAFE = re.compile(r"[\s.*>]")


def token(text: str) -> str:
    """``text`` as one subject token: NATS forbids whitespace, ``.``, ``*`` and ``>``."""
    return _UNSAFE.sub("_", text) or "_"


def partition_of(stream_id: str, partitions: int) -> int:
    return zlib.crc32(stream_id.encode()) % partitions


def subject_of(prefix: str, event: StoredEvent, partitions: int) -> str:
    return f"{prefix}.{token(event.category)}.{partition_of(event.stream_id, partitions)}"
