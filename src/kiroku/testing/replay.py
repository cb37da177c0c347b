"""Replay equals rebuild, checked on an app's own history (no pytest needed).

For a projection declaring ``replay_safe = True`` the claim is that delivering
events P.. again over its current read model leaves exactly what building it
afresh leaves (replay after live = rebuild). ``check_replay_equals_rebuild``
proves it on a journal: it processes the journal live, replays each replay-safe
projection from each start given, and compares every table of the read model
(documents, a projection's own SQL tables and FTS contents; not the
bookkeeping) with a rebuild. A projection that is not replay-safe is checked
to refuse the replay instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kiroku.errors import ParkedEventError
from kiroku.journal.protocol import Journal
from kiroku.projections.catalog import StoreCatalog
from kiroku.projections.host import ProjectionHost
from kiroku.projections.projection import Projection
from kiroku.projections.readstore import ReadView
from kiroku.projections.safety import ReplayRefusedError
from kiroku.schema.codec import Codec

__all__ = ["ReplayMismatchError", "check_replay_equals_rebuild", "read_model_dump"]

Dump = dict[str, list[str]]


class ReplayMismatchError(AssertionError):
    """A replay left a read model different from a rebuild's."""


async def read_model_dump(view: ReadView) -> Dump:
    """Every read-model table's rows, sorted (engine and bookkeeping tables left out)."""
    return await view.dump()


async def check_replay_equals_rebuild(
    journal: Journal,
    projections: Sequence[Projection],
    data_dir: Path,
    *,
    codec: Codec,
    starts: Sequence[int] = (1,),
    catalog: StoreCatalog | None = None,
) -> dict[str, int]:
    """Raise ``ReplayMismatchError`` unless replay after live equals rebuild, for
    every replay-safe projection and every start; returns the rows compared per name.
    The stores are SQLite files under ``data_dir`` unless a ``catalog`` says otherwise."""
    async with _Host(journal, projections, data_dir, codec, catalog) as host:
        await host.catch_up()
        await host.rebuilds.join()  # rebuilds that retractions in the history called for
        compared: dict[str, int] = {}
        for projection in projections:
            name = projection.name
            if not projection.replay_safe:
                await _expect_refusal(host, name)
                continue
            live = await read_model_dump(host.reader(name))
            await host.rebuild(name)
            rebuilt = await read_model_dump(host.reader(name))
            _compare(name, "live processing", live, rebuilt)
            for start in starts:
                try:
                    await host.replay(name, start, lambda _: None)
                except ParkedEventError as e:
                    raise ReplayMismatchError(f"{name}: a replay from {start} failed: {e}") from e
                if host.parked(name):
                    parked = host.parked(name)
                    raise ReplayMismatchError(
                        f"{name}: a replay from {start} parked {len(parked)} events, "
                        f"the first: {parked[0].error}"
                    )
                _compare(name, f"a replay from {start}", await read_model_dump(host.reader(name)),
                         rebuilt)  # fmt: skip
            compared[name] = sum(len(rows) for rows in rebuilt.values())
        return compared


async def _expect_refusal(host: ProjectionHost, name: str) -> None:
    try:
        await host.replay(name, 1)
    except ReplayRefusedError:
        return
    raise ReplayMismatchError(f"{name} is not replay-safe, but its replay was not refused")


def _compare(name: str, what: str, got: Dump, rebuilt: Dump) -> None:
    if got == rebuilt:
        return
    lines = [f"{name}: {what} differs from a rebuild"]
    for table in sorted(set(got) | set(rebuilt)):
        mine, theirs = set(got.get(table, [])), set(rebuilt.get(table, []))
        lines += [f"  {table}: only after {what}: {row}" for row in sorted(mine - theirs)[:5]]
        lines += [f"  {table}: only in the rebuild: {row}" for row in sorted(theirs - mine)[:5]]
    raise ReplayMismatchError("\n".join(lines))


class _Host:
    """A host over ``data_dir`` for the check, closed however it ends."""

    def __init__(
        self,
        journal: Journal,
        projections: Sequence[Projection],
        data_dir: Path,
        codec: Codec,
        catalog: StoreCatalog | None,
    ) -> None:
        self.host = ProjectionHost(
            journal, list(projections), data_dir, codec=codec, catalog=catalog
        )

    async def __aenter__(self) -> ProjectionHost:
        return self.host

    async def __aexit__(self, *exc: object) -> None:
        await self.host.close()
