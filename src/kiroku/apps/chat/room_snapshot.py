"""What a snapshot of a room stores, and how older snapshots are brought up to it.

State version 2 stores the messages as the packed arrays they live in (see
``messages``): at a million messages ~25 MB of bytes fields (base64 in JSON),
encoded a slice at a time by ``Codec.encode_state`` (so the worker thread that
encodes it lets the event loop run), instead of a JSON object per message. Version 1
snapshots (a JSON object per message) are upcast, so a room whose early events
a retention policy deleted still recovers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import msgspec

from kiroku import JSON
from kiroku.apps.chat.messages import Messages, Packed

__all__ = ["UPCASTERS", "RoomSnapshot"]


@dataclass(frozen=True, slots=True)
class RoomSnapshot:
    """The room's fields, then its messages packed (see ``message_log.Packed``)."""

    room_id: str = ""
    name: str = ""
    owner: str = ""
    members: tuple[str, ...] = ()
    archived: bool = False
    read_up_to: dict[str, int] = field(default_factory=dict)
    ids: bytes = b""
    ends: bytes = b""
    author_of: bytes = b""
    authors: list[str] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    depth: int = 0
    bucket_depths: bytes = b"\x00"
    bucket_sizes: bytes = b"\x00\x00\x00\x00"
    hashes: bytes = b""
    seqs: bytes = b""

    @classmethod
    def packing(cls, room: RoomSnapshot, messages: Messages) -> RoomSnapshot:
        """``room``'s own fields, with ``messages`` packed."""
        packed = messages.packed()
        return dataclasses.replace(
            room, **{f.name: getattr(packed, f.name) for f in dataclasses.fields(Packed)}
        )

    def messages(self) -> Messages:
        """Raises ValueError if the parts do not fit together."""
        return Messages.unpacked(
            Packed(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Packed)})
        )


def _v1_to_v2(old: dict[str, JSON]) -> dict[str, JSON]:
    """A JSON object per message -> packed arrays; places of replaced re-posts kept empty."""
    by_seq: dict[int, tuple[str | None, str, bool]] = {}
    raw = old.get("messages") or {}
    assert isinstance(raw, dict)
    for mid, info in raw.items():
        assert isinstance(info, dict)
        seq, author = info["seq"], info["author"]
        assert isinstance(seq, int)
        assert isinstance(author, str)
        by_seq[seq] = (mid, author, bool(info.get("deleted", False)))
    posted = old.get("posted", 0)
    assert isinstance(posted, int)
    last = max([posted, *by_seq])
    entries = [by_seq.get(seq, (None, "", False)) for seq in range(1, last + 1)]
    fields = ("room_id", "name", "owner", "members", "archived", "read_up_to")
    room = msgspec.convert({k: old[k] for k in fields if k in old}, RoomSnapshot)
    out = msgspec.to_builtins(RoomSnapshot.packing(room, Messages.of(entries)))
    assert isinstance(out, dict)
    return out


UPCASTERS: Mapping[int, Callable[[dict[str, JSON]], dict[str, JSON]]] = {1: _v1_to_v2}
