"""Projection hosts for tests, closed however the test ends.

``make_host(journal, Boards(), Notes(), batch_size=2)`` builds a host over the
test's ``tmp_path`` with the kit's codec; every host it made is closed after
the test. ``hosted(...)`` is the same as an ``async with`` that also starts the
runners, for code outside a test function's fixtures.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Protocol

import pytest

from kiroku import Codec, Journal
from kiroku.projections import FailurePolicy, Projection, ProjectionHost
from kits.domain import CODEC

__all__ = ["HostMaker", "hosted", "make_host"]


class HostMaker(Protocol):
    def __call__(
        self,
        journal: Journal,
        *projections: Projection,
        data: Path | None = None,
        codec: Codec = CODEC,
        policies: Mapping[str, FailurePolicy] | None = None,
        default_policy: FailurePolicy | None = None,
        batch_size: int = 1000,
        on_rebuild_needed: Callable[[str], None] | None = None,
    ) -> ProjectionHost: ...


@pytest.fixture
async def make_host(tmp_path: Path) -> AsyncIterator[HostMaker]:
    made: list[ProjectionHost] = []

    def make(
        journal: Journal,
        *projections: Projection,
        data: Path | None = None,
        codec: Codec = CODEC,
        policies: Mapping[str, FailurePolicy] | None = None,
        default_policy: FailurePolicy | None = None,
        batch_size: int = 1000,
        on_rebuild_needed: Callable[[str], None] | None = None,
    ) -> ProjectionHost:
        host = ProjectionHost(
            journal,
            list(projections),
            data or tmp_path,
            codec=codec,
            policies=policies,
            default_policy=default_policy,
            batch_size=batch_size,
            on_rebuild_needed=on_rebuild_needed,
        )
        made.append(host)
        return host

    yield make
    for host in made:
        await host.close()


@contextlib.asynccontextmanager
async def hosted(
    journal: Journal, *projections: Projection, data: Path, codec: Codec = CODEC
) -> AsyncIterator[ProjectionHost]:
    async with ProjectionHost(journal, list(projections), data, codec=codec) as host:
        yield host
