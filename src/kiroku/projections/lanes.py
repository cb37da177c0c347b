"""Lanes: one projection's partitions shared by several projector processes.

The bus splits every category into partitions by stream id. A projector started
with ``--partitions 0-7`` runs a *lane*: a durable consumer for those partitions
only, writing the same PostgreSQL read store as the lanes of the other
partitions. Every stream belongs to one partition, so per-stream versions (the
exactly-once guard) never meet two writers; what the lanes share is guarded here:

- **Shared documents take turns.** A lane's transaction first locks the store's
  ``kiroku_changes`` row: shared when the projection is ``partition_local``
  (each document belongs to one aggregate, so lanes never meet on one), else
  exclusively, so two lanes never interleave reads and writes of a document
  both touch (a summary fed by many rooms): their commits take turns, the rest
  of the work (fetching, decoding, acknowledging) does not. The lock is taken
  with ``NOWAIT`` and retried after a short pause: the read store's connection
  is synchronous, and a blocking wait would stall every other projection of
  the process. Lanes' transactions do not count themselves in
  ``kiroku_changes`` (they would all meet on that row): a lane does not watch
  for other writers, its partitions' locks say it has none.
- **Checkpoints per lane.** Each lane keeps its own row in ``kiroku_lanes``; the
  projection's checkpoint, which readers and ``min_position`` go by, is the
  lowest of them. A lane with nothing to do moves its row to the relay's
  checkpoint (``mark_idle``): every event published up to there that belongs to
  it has been applied, so an idle lane never holds the others back.
- **A rebuild swaps under everyone.** Whichever lane rebuilds locks the serving
  generation's ``kiroku_changes`` row while it takes the last events and swaps,
  then marks that generation retired. A lane waiting on the lock then finds it
  retired and moves to the new generation (``GenerationMovedError``) rather than
  commit into the old one.

Lanes need a shared PostgreSQL read store: on SQLite one process owns a
projection's store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from kiroku.errors import ConfigError, ReadStoreError
from kiroku.projections.checkpoint import now_text
from kiroku.projections.readstore import ReadStore, SqlConnection, Tx

__all__ = [
    "GenerationMovedError",
    "Lane",
    "LaneBusyError",
    "carry_over",
    "lane_turn",
    "parse_partitions",
]

PAUSE_FIRST, PAUSE_MAX = 0.0005, 0.02  # seconds between a lane's tries for its turn


class GenerationMovedError(ReadStoreError):
    """A rebuild in another process swapped in a new generation: follow it, commit nothing here."""


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT lock another holds


class LaneBusyError(Exception):
    """Another lane's transaction holds the store's turn: roll back, pause, try again."""


def _refuse_retired(row: Sequence[object] | None) -> None:
    if row is not None and row[0]:
        raise GenerationMovedError("", None, "a rebuild swapped in a new generation; following it")


def parse_partitions(text: str, total: int) -> tuple[int, ...]:
    """``"0-3,6"`` -> (0, 1, 2, 3, 6), each below ``total`` (the bus's partition count)."""
    chosen = _members(text)
    if not chosen or chosen[0] < 0 or chosen[-1] >= total:
        raise ConfigError(
            f"--partitions {text!r}: each partition is 0..{total - 1} (the bus has {total})"
        )
    return chosen


def _members(text: str) -> tuple[int, ...]:
    chosen: set[int] = set()
    for piece in (p.strip() for p in text.split(",")):
        low, dash, high = piece.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise ConfigError(
                f"--partitions takes numbers and ranges such as 0-7 or 0,2,4, got {text!r}"
            ) from None
        if first > last:
            raise ConfigError(f"--partitions {text!r}: a range goes low-high")
        chosen.update(range(first, last + 1))
    return tuple(sorted(chosen))


def _key(partitions: tuple[int, ...]) -> str:
    """The canonical text of a partition set: ``0-3,6``."""
    runs: list[list[int]] = []
    for p in partitions:
        if runs and runs[-1][1] == p - 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


@dataclass(frozen=True, slots=True)
class Lane:
    partitions: tuple[int, ...]

    @property
    def key(self) -> str:
        return _key(self.partitions)

    def overlaps(self, key: str) -> bool:
        """Whether the lane named ``key`` shares a partition with this one."""
        return not set(_members(key)).isdisjoint(self.partitions)

    def begin(self, conn: SqlConnection, *, alone: bool) -> None:
        """The first statement of every transaction of this lane: take the store's
        turn (``alone``: lanes of a projection that is not partition-local take
        turns) or share it, and refuse a generation a rebuild has retired. A lock
        another holds is ``LaneBusyError`` at once: the caller rolls back and tries
        again after a pause, so a wait never blocks its event loop."""
        mode = "UPDATE" if alone else "SHARE"
        try:
            row = conn.execute(
                f"SELECT retired FROM kiroku_changes WHERE id = 1 FOR {mode} NOWAIT"
            ).fetchone()
        except ReadStoreError as e:
            if getattr(e.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise LaneBusyError(str(e)) from None
            raise
        _refuse_retired(row)

    def load(self, conn: SqlConnection) -> tuple[int, int]:
        """This lane's position (a new lane starts at the projection's checkpoint: the
        generation was built or left there) and the projection's batch count.

        A row of a lane sharing a partition with this one is an earlier split (whoever
        holds these partitions' locks is their only writer): its partitions that are
        not this lane's keep a row at its position, so partitions nobody runs now
        still hold the projection's checkpoint back."""
        _refuse_retired(conn.execute("SELECT retired FROM kiroku_changes WHERE id = 1").fetchone())
        lanes = conn.execute("SELECT lane, position FROM kiroku_lanes").fetchall()
        for key, at in lanes:
            if str(key) == self.key or not self.overlaps(str(key)):
                continue
            conn.execute("DELETE FROM kiroku_lanes WHERE lane = ?", (str(key),))
            rest = tuple(p for p in _members(str(key)) if p not in self.partitions)
            if rest:
                conn.execute(
                    "INSERT INTO kiroku_lanes(lane, position, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT(lane) DO UPDATE SET position ="
                    " least(kiroku_lanes.position, excluded.position)",
                    (_key(rest), int(at), now_text()),
                )
        row = conn.execute("SELECT position, batch FROM kiroku_checkpoint").fetchone()
        position, batch = (0, 0) if row is None else (int(row[0]), int(row[1]))
        mine = [int(p) for k, p in lanes if str(k) == self.key]
        if not mine:
            self._save_lane(conn, position)
        return (mine[0] if mine else position), batch

    def next_batch(self, conn: SqlConnection) -> int:
        """The projection's next batch number (lanes share one count: the ledger's)."""
        row = conn.execute("SELECT batch FROM kiroku_checkpoint").fetchone()
        return 1 if row is None else int(row[0]) + 1

    def save(self, conn: SqlConnection, name: str, position: int, batch: int) -> None:
        """Move this lane to ``position`` and the projection's checkpoint to the lowest lane."""
        self._save_lane(conn, position)
        low = conn.execute("SELECT min(position) FROM kiroku_lanes").fetchone()
        conn.execute(
            "INSERT INTO kiroku_checkpoint(id, projection, position, batch, updated_at) "
            "VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET position = excluded.position,"
            " batch = excluded.batch, updated_at = excluded.updated_at",
            (name, int(low[0]) if low and low[0] is not None else position, batch, now_text()),
        )

    def _save_lane(self, conn: SqlConnection, position: int) -> None:
        conn.execute(
            "INSERT INTO kiroku_lanes(lane, position, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(lane) DO UPDATE SET position = excluded.position,"
            " updated_at = excluded.updated_at",
            (self.key, position, now_text()),
        )


def carry_over(old: SqlConnection, new: SqlConnection, position: int) -> None:
    """Give a rebuilt generation (caught up to ``position``) a row for every lane of
    the one it replaces, so its checkpoint stays the lowest lane's while lanes still
    on their way to it have not committed there yet."""
    keys = [str(r[0]) for r in old.execute("SELECT lane FROM kiroku_lanes").fetchall()]
    for key in keys:
        new.execute(
            "INSERT INTO kiroku_lanes(lane, position, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(lane) DO NOTHING",
            (key, position, now_text()),
        )


async def lane_turn(
    store: ReadStore, lane: Lane, position: int, *, alone: bool
) -> tuple[contextlib.AsyncExitStack, Tx]:
    """A transaction on ``store`` in which ``lane`` has its turn (``Lane.begin``), waited
    for off the event loop; the caller leaves the returned stack to commit."""
    pause = PAUSE_FIRST
    while True:
        stack = contextlib.AsyncExitStack()
        # not counted in kiroku_changes: lanes would all meet on its row
        tx = await stack.enter_async_context(store.transaction(position, immediate=False))
        try:
            lane.begin(tx.conn, alone=alone)
            return stack, tx
        except BaseException as e:
            await stack.__aexit__(type(e), e, e.__traceback__)  # rolled back
            if not isinstance(e, LaneBusyError):
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, PAUSE_MAX)
