"""Operator actions on one runner: retry or skip a parked event, rewind for a replay.

Each runs under the runner's lock and goes through the runner's ``Committer``,
in read-store transactions that move the checkpoint, the stream versions and
the ledger together with the read model, so an operator's action is exactly as
crash-safe as normal processing.
"""

from __future__ import annotations

from kiroku.domain.envelope import StoredEvent
from kiroku.errors import InputError, NotFoundError
from kiroku.projections import ledger
from kiroku.projections.model import LedgerEntry, Outcome, ParkedEvent
from kiroku.projections.runner import ProjectionRunner
from kiroku.projections.safety import check_replayable

__all__ = ["ledger_entry", "list_parked", "retry_parked", "rewind", "skip_parked"]


def list_parked(runner: ProjectionRunner, *, include_resolved: bool = False) -> list[ParkedEvent]:
    return ledger.load_parked(runner.store.conn, runner.name, open_only=not include_resolved)


def ledger_entry(runner: ProjectionRunner, event: StoredEvent) -> LedgerEntry:
    """What ``runner``'s projection did with ``event``, exactly."""
    if event.type not in runner.committer.subscribed:
        return LedgerEntry(runner.name, event.position, Outcome.NOT_SUBSCRIBED)
    found = ledger.ledger_lookup(runner.store.conn, runner.name, event.position)
    return found or LedgerEntry(runner.name, event.position, Outcome.NOT_REACHED)


async def retry_parked(runner: ProjectionRunner, ident: int) -> None:
    """Apply a parked event again (after a fix); then the events held behind it."""
    await _resolve_and_release(runner, ident, None)


async def skip_parked(runner: ProjectionRunner, ident: int, reason: str, *, by: str) -> None:
    """Give up on a parked event, on the record: who, why and when are kept apart
    from the store (``SkipBook``), so every later pass passes over it too."""
    if not reason.strip():
        raise InputError(f"Skipping parked #{ident} of {runner.name} needs a reason")
    if not by.strip():
        raise InputError(f"Skipping parked #{ident} of {runner.name} needs who decides it")
    await _resolve_and_release(runner, ident, (reason.strip(), by.strip()))


async def _resolve_and_release(
    runner: ProjectionRunner, ident: int, skip: tuple[str, str] | None
) -> None:
    async with runner.lock:
        parked = _open_one(runner, ident)
        event = await runner.journal.get_event(parked.position)
        await runner.committer.resolve(parked, event, skip)
        for held in ledger.load_parked(runner.store.conn, runner.name):
            if held.stream == event.stream and held.kind == "held":
                found = await runner.journal.get_event(held.position)
                await runner.committer.resolve(held, found, None)
    runner.refresh_parked()
    if runner.keep_running and not runner.running:
        await runner.start()


def _open_one(runner: ProjectionRunner, ident: int) -> ParkedEvent:
    found = ledger.load_parked(runner.store.conn, runner.name, open_only=False, ident=ident)
    if not found:
        raise NotFoundError(f"Projection {runner.name!r} has no parked event #{ident}")
    if found[0].status != "parked":
        raise InputError(
            f"Parked event {found[0].ref} was already {found[0].status} ({found[0].reason or ''})"
        )
    return found[0]


async def rewind(runner: ProjectionRunner, from_position: int) -> None:
    """Move ``runner`` back so its events from ``from_position`` are processed again;
    others are untouched. Handlers then run over the current read model, which
    only a replay-safe projection allows (``rebuild`` starts from an empty one)."""
    check_replayable(runner.projection)
    if from_position < 1:
        raise InputError(
            f"Replay of {runner.name} must start at position >= 1, got {from_position}"
        )
    was_running = runner.keep_running
    await runner.stop()
    async with runner.lock:
        await runner.committer.rewind(from_position)
        runner.reload()
    if was_running:
        await runner.start()
