"""``heap.settle``: what start-up built leaves the collected generations, and later
collections are spaced out."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from kiroku.roles import heap


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored")
def test_settling_freezes_the_survivors_and_raises_the_thresholds() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a container the collector tracks

    built = Node()
    assert gc.is_tracked(built)
    heap.settle()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *heap.OLDER_THRESHOLDS)
    assert all(obj is not built for obj in gc.get_objects())  # frozen: no generation walks it
    later = Node()
    assert any(obj is later for obj in gc.get_objects(generation=0))
