"""Who may write a projection on PostgreSQL: lanes on disjoint partitions side by side;
a lane sharing a partition with a running one, or a whole-projection writer (a
projector without ``--partitions``, ``kiroku rebuild``) beside lanes, refused with
the holder named — and the other way round."""

from __future__ import annotations

import pytest
from pgkit import dsn_fixture

from kiroku.cli.owner import claiming
from kiroku.errors import DataDirectoryBusyError

pytestmark = pytest.mark.postgres
__all__ = ["dsn_fixture"]


def refused(dsn: str, who: str, partitions: list[int] | None = None) -> str:
    """The refusal a claim on ``chat.rooms`` meets (the test fails if it is granted)."""
    with (
        pytest.raises(DataDirectoryBusyError) as caught,
        claiming(dsn, ["chat.rooms"], who, partitions=partitions),
    ):
        pass
    return str(caught.value)


def test_lanes_on_disjoint_partitions_share_a_projection(dsn: str) -> None:
    with (
        claiming(dsn, ["chat.rooms"], "lane a", partitions=[0, 1]),
        claiming(dsn, ["chat.rooms"], "lane b", partitions=[2, 3]),
    ):
        overlapping = refused(dsn, "lane c", [1, 4])
        assert "chat.rooms, partition 1" in overlapping
        assert "lane a" in overlapping  # the holder, named
        assert "chat.rooms" in refused(dsn, "kiroku rebuild")
        with claiming(dsn, ["chat.search"], "kiroku rebuild"):  # another projection: free
            pass
    with claiming(dsn, ["chat.rooms"], "kiroku rebuild"):  # the lanes are gone
        assert "chat.rooms" in refused(dsn, "lane a", [0])
