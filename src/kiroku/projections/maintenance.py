"""Operator actions on one runner: retry or skip a parked event, replay from a position.

Each runs under the runner's lock, in read-store transactions that move the
checkpoint, the stream versions and the ledger together with the read model, so
an operator's action is exactly as crash-safe as normal processing.
"""

from __future__ import annotations

from kiroku.domain.envelope import StoredEvent
from kiroku.errors import HandlerError, InputError, NotFoundError
from kiroku.projections import bookkeeping as bk
from kiroku.projections.apply import BatchWork, merged
from kiroku.projections.model import Outcome, ParkedEvent
from kiroku.projections.runner import ProjectionRunner
from kiroku.projections.safety import check_replayable
from kiroku.projections.store import is_store_failure

__all__ = ["list_parked", "replay", "retry_parked", "skip_parked"]


def list_parked(runner: ProjectionRunner, *, include_resolved: bool = False) -> list[ParkedEvent]:
    return bk.load_parked(runner.store.conn, runner.name, open_only=not include_resolved)


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
        await _resolve(runner, parked, event, skip)
        for held in bk.load_parked(runner.store.conn, runner.name):
            if held.stream == event.stream and held.kind == "held":
                await _resolve(runner, held, await runner.journal.get_event(held.position), None)
    if runner.keep_running and not runner.running:
        await runner.start()


def _open_one(runner: ProjectionRunner, ident: int) -> ParkedEvent:
    found = bk.load_parked(runner.store.conn, runner.name, open_only=False, ident=ident)
    if not found:
        raise NotFoundError(f"Projection {runner.name!r} has no parked event #{ident}")
    if found[0].status != "parked":
        raise InputError(
            f"Parked event {found[0].ref} was already {found[0].status} ({found[0].reason or ''})"
        )
    return found[0]


async def _resolve(
    runner: ProjectionRunner,
    parked: ParkedEvent,
    event: StoredEvent,
    skip: tuple[str, str] | None,
) -> None:
    work = BatchWork(pending=merged(runner._pending))
    last = runner._applier.last_version(work, event.stream)
    if event.version != last + 1:
        raise InputError(
            f"Parked {parked.ref} is version {event.version} of {event.stream}, but "
            f"{runner.name} is at version {last} of it: resolve the earlier one first"
        )
    detail, reason = f"applied on retry of parked {parked.ref}", None
    if skip is not None:
        why, by = skip
        record = runner.skips.record(runner.name, event.position, str(event.event_id), by, why)
        detail, reason = record.detail, f"{why} (by {by})"
    try:
        async with runner.store.transaction(event.position) as tx:
            if skip is None:
                await runner._applier.run_handler(tx, event, work)
                work.applied += 1
            outcome = Outcome.APPLIED if skip is None else Outcome.SKIPPED
            work.exceptions.append((event.position, outcome, detail))
            work.versions[event.stream] = (event.version, event.position)
            bk.resolve_parked(tx._conn, parked.id, "retried" if skip is None else "skipped", reason)
            work.advance_to = event.position
            runner._bookkeep(work)
    except Exception as e:
        if is_store_failure(e):
            raise
        await _record_failure(runner, event, e)
        raise HandlerError(runner.name, event.position, f"retry of {parked.ref} failed: {e}") from e
    runner._committed(work)
    runner.refresh_parked()


async def _record_failure(runner: ProjectionRunner, event: StoredEvent, error: Exception) -> None:
    work = BatchWork(pending=merged(runner._pending))
    async with runner.store.transaction(event.position) as tx:
        runner._applier.park_failed(tx, event, work, error, 1)
    runner.refresh_parked()


async def replay(runner: ProjectionRunner, from_position: int) -> None:
    """Process this projection's events again from ``from_position``; others are untouched.

    The checkpoint moves back to just before it and each stream touched since
    goes back to its version before that point, so the replayed events are
    applied (not skipped as duplicates). Handlers run over the current read
    model; ``rebuild`` starts from an empty one instead.
    """
    check_replayable(runner.projection)
    if from_position < 1:
        raise InputError(
            f"Replay of {runner.name} must start at position >= 1, got {from_position}"
        )
    was_running = runner.keep_running
    await runner.stop()
    async with runner.lock:
        rewound = await _rewound_versions(runner, from_position)
        async with runner.store.transaction(from_position) as tx:
            conn = tx._conn
            for stream, version in rewound.items():
                conn.execute("DELETE FROM kiroku_streams WHERE stream = ?", (stream,))
                if version:
                    bk.save_versions(conn, {stream: (version, from_position - 1)})
            conn.execute(
                "UPDATE kiroku_parked SET status = 'replayed', resolved_at = ?, reason = ? "
                "WHERE status = 'parked' AND position >= ?",
                (bk.now_text(), f"replay from {from_position}", from_position),
            )
            bk.save_checkpoint(conn, runner.name, from_position - 1, runner.batch)
        runner.reload()
    if was_running:
        await runner.start()


async def _rewound_versions(runner: ProjectionRunner, position: int) -> dict[str, int]:
    rows = runner.store.rows("SELECT stream FROM kiroku_streams WHERE position >= ?", (position,))
    rewound: dict[str, int] = {}
    for (stream,) in rows:
        events = await runner.journal.read_stream(str(stream))
        later = [e.version for e in events if e.position >= position]
        earlier = [e.version for e in events if e.position < position]
        rewound[str(stream)] = min(later) - 1 if later else max(earlier, default=0)
    return rewound
