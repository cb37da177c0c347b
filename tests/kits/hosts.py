"""Projection hosts for tests, closed however the test ends.

``make_host(journal, Boards(), Notes(), batch_size=2)`` builds a host over the
test's ``tmp_path`` with the kit's codec; every host it made is closed after
the test. Outside a test function's fixtures (helpers, hypothesis examples):
``hosted(...)`` is an ``async with`` that also starts the runners, and
``caught_up(...)`` one that runs every projection to the journal's head once,
without runners following it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Protocol, TypedDict, Unpack

import pytest

from kiroku import Codec, Journal
from kiroku.projections import FailurePolicy, Projection, ProjectionHost, StoreCatalog
from kits.domain import CODEC

__all__ = ["HostMaker", "HostOptions", "caught_up", "hosted", "make_host", "new_host"]


class HostOptions(TypedDict, total=False):
    codec: Codec
    policies: Mapping[str, FailurePolicy] | None
    default_policy: FailurePolicy | None
    batch_size: int
    on_rebuild_needed: Callable[[str], None] | None
    catalog: StoreCatalog | None


def new_host(
    journal: Journal, *projections: Projection, data: Path | str, **options: Unpack[HostOptions]
) -> ProjectionHost:
    """A host over ``data``, with the kit's codec unless told otherwise; the caller closes it."""
    options.setdefault("codec", CODEC)
    return ProjectionHost(journal, list(projections), data, **options)


class HostMaker(Protocol):
    def __call__(
        self,
        journal: Journal,
        *projections: Projection,
        data: Path | None = None,
        **options: Unpack[HostOptions],
    ) -> ProjectionHost: ...


@pytest.fixture
async def make_host(tmp_path: Path) -> AsyncIterator[HostMaker]:
    made: list[ProjectionHost] = []

    def make(
        journal: Journal,
        *projections: Projection,
        data: Path | None = None,
        **options: Unpack[HostOptions],
    ) -> ProjectionHost:
        host = new_host(journal, *projections, data=data or tmp_path, **options)
        made.append(host)
        return host

    yield make
    for host in made:
        await host.close()


@contextlib.asynccontextmanager
async def hosted(
    journal: Journal, *projections: Projection, data: Path | str, **options: Unpack[HostOptions]
) -> AsyncIterator[ProjectionHost]:
    async with new_host(journal, *projections, data=data, **options) as host:
        yield host


@contextlib.asynccontextmanager
async def caught_up(
    journal: Journal, *projections: Projection, data: Path | str, **options: Unpack[HostOptions]
) -> AsyncIterator[ProjectionHost]:
    host = new_host(journal, *projections, data=data, **options)
    try:
        await host.catch_up()
        yield host
    finally:
        await host.close()
