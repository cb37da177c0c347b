"""A state with big bytes fields is encoded in slices, exactly as msgspec would."""

import os
from dataclasses import dataclass, field

import msgspec
import pytest

from kiroku import Codec
from kiroku.schema.state_json import LARGE, encode_state


@dataclass(frozen=True)
class Packed:
    name: str = ""
    ids: bytes = b""
    sizes: list[int] = field(default_factory=list)
    tail: bytearray = field(default_factory=bytearray)


class Renamed(msgspec.Struct, rename="camel"):
    room_name: str
    packed_ids: bytes
    extra: dict[str, int] = {}


class Omitting(msgspec.Struct, omit_defaults=True):
    blob: bytes
    note: str = ""


@pytest.mark.parametrize("size", [0, 5, LARGE - 1, LARGE, LARGE + 1, 3 * LARGE + 7])
def test_a_dataclass_encodes_as_msgspec_does(size: int) -> None:
    state = Packed('room "1"', os.urandom(size), [1, 2], bytearray(os.urandom(size // 2)))
    assert encode_state(state) == msgspec.json.encode(state)


@pytest.mark.parametrize(
    "state",
    [
        Renamed("big", os.urandom(2 * LARGE + 1), {"a": 1}),
        Omitting(os.urandom(LARGE + 2)),
        {"plain": "dict"},
        [1, 2, 3],
    ],
)
def test_other_shapes_encode_as_msgspec_does(state: object) -> None:
    assert encode_state(state) == msgspec.json.encode(state)


def test_the_codec_reads_back_what_it_wrote() -> None:
    state = Packed("r", os.urandom(2 * LARGE + 2), [3], bytearray(b"x"))
    codec = Codec()
    assert codec.decode_state(codec.encode_state(state), Packed) == state
