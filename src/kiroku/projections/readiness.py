"""Whether a host can answer reads truthfully now, and if not, why, per store.

A server is ready only if every store it serves from is there and current:
the generations catalog (``read.db``) and each projection's serving file
exist; no runner is failed, stopped or retrying a storage error; and no store
that was found damaged is still being rebuilt. ``/readyz`` answers from this.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from kiroku.journal.protocol import Journal
from kiroku.projections.catalog import StoreCatalog
from kiroku.projections.damage import DamagedStore
from kiroku.projections.model import RunnerState
from kiroku.projections.runner import ProjectionRunner

__all__ = ["unready"]

_NOT_SERVING = (RunnerState.FAILED, RunnerState.STOPPED, RunnerState.RETRYING)


async def unready(
    catalog: StoreCatalog,
    runners: Mapping[str, ProjectionRunner],
    damaged: Mapping[str, DamagedStore],
    rebuild_targets: MutableMapping[str, int],
    journal: Journal,
) -> dict[str, str]:
    """Why the stores are not ready, by store name; empty when they all are.

    ``rebuild_targets`` remembers, per damaged store, the journal's head when
    readiness was first asked: the rebuild is done once it reaches that.
    """
    reasons = _missing(catalog, runners)
    head = await journal.head_position()
    for name, runner in sorted(runners.items()):
        if name in reasons:
            continue
        target = rebuild_targets.setdefault(name, head) if name in damaged else 0
        if runner.position < target:
            moved = damaged[name].moved_to.name
            reasons[name] = (
                f"rebuilding from the journal ({runner.position}/{target}): its store "
                f"could not be opened and was moved aside to {moved}"
            )
        elif runner.state in _NOT_SERVING:
            reasons[name] = f"{runner.state.value}: {runner.error or 'not running'}"
    return reasons


def _missing(catalog: StoreCatalog, runners: Mapping[str, ProjectionRunner]) -> dict[str, str]:
    """Stores deleted from under a running server (a stat or a query each: cheap, exact)."""
    reasons: dict[str, str] = {}
    if not catalog.present():
        reasons["read.db"] = f"the read-store catalog {catalog.where} is missing"
    for name, runner in runners.items():
        if not runner.store.present():
            reasons[name] = f"its read store {runner.store.location} is missing"
    return reasons
