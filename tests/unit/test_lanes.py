"""Lanes' partition sets and ``--partitions`` as a role option: what is accepted, what is
refused with a message naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiroku.errors import ConfigError
from kiroku.projections.lanes import Lane, parse_partitions
from kiroku.roles.spec import RoleSpec

PG = "postgresql://kiroku@db/kiroku"


def test_partitions_are_numbers_and_ranges_below_the_bus_count() -> None:
    assert parse_partitions("0-3,6", 16) == (0, 1, 2, 3, 6)
    assert parse_partitions(" 7 , 2-3,3 ", 8) == (2, 3, 7)
    for bad in ("", "a", "3-1", "0-16", "-1", "1,,2"):
        with pytest.raises(ConfigError):
            parse_partitions(bad, 16)


@given(st.sets(st.integers(0, 63), min_size=1))
def test_a_lane_key_reads_back_as_its_partitions(chosen: set[int]) -> None:
    lane = Lane(tuple(sorted(chosen)))
    assert parse_partitions(lane.key, 64) == lane.partitions


def test_lanes_overlap_when_they_share_a_partition() -> None:
    lane = Lane((0, 1, 2, 3))
    assert lane.overlaps("3-5")
    assert lane.overlaps("0")
    assert not lane.overlaps("4-7")


def _spec(roles: set[str], bus: str | None, store: str) -> RoleSpec:
    return RoleSpec(frozenset(roles), PG, bus, store, data=Path("/tmp/x"), partitions="0-7")


def test_partitions_need_a_projector_a_nats_bus_and_postgresql_read_stores() -> None:
    assert _spec({"projector"}, "nats://n:4222", PG).lane_partitions() == tuple(range(8))
    refused = [
        (_spec({"read"}, "nats://n:4222", PG), "projector role"),
        (_spec({"projector"}, None, PG), "nats://"),
        (_spec({"projector", "relay"}, "memory", PG), "nats://"),
        (_spec({"projector"}, "nats://n:4222", "sqlite:///read"), "postgresql://"),
    ]
    for spec, says in refused:
        with pytest.raises(ConfigError, match=says):
            spec.check()
