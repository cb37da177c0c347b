"""A read store's write-ahead log is checkpointed by a background thread, not in the
runner's COMMIT, and stays bounded however many batches are committed."""

from __future__ import annotations

from pathlib import Path

from kiroku.projections.store import ProjectionStore
from kiroku.projections.walcheck import EVERY, checkpointer

PAGE = 4096
MIB = 1024 * 1024


async def _commit_batches(store: ProjectionStore, first: int, batches: int, size: int) -> None:
    for i in range(first, first + batches):
        async with store.transaction(i + 1) as tx:
            await tx.collection("docs").put(f"doc-{i}", {"text": "x" * size})


async def test_the_log_is_checkpointed_in_the_background_and_stays_bounded(
    tmp_path: Path,
) -> None:
    store = ProjectionStore(tmp_path / "p.db", "p")
    try:
        wal = tmp_path / "p.db-wal"
        done = checkpointer.done
        biggest = 0
        for round_ in range(6):  # ~5 pages a batch: 6 x EVERY batches would be ~4 MB of log
            await _commit_batches(store, round_ * EVERY, EVERY, 5 * PAGE)
            checkpointer.join()
            biggest = max(biggest, wal.stat().st_size)
        assert checkpointer.done >= done + 6
        assert biggest < 2 * EVERY * 6 * PAGE  # the log restarts after each checkpoint
        assert store.rows("SELECT count(*) FROM doc_docs")[0][0] == 6 * EVERY
    finally:
        store.close()


def test_a_checkpoint_of_a_removed_store_does_not_create_it(tmp_path: Path) -> None:
    gone = tmp_path / "gone.db"
    checkpointer.request(gone)
    checkpointer.join()
    assert not gone.exists()


async def test_under_continuous_commits_the_log_still_starts_over(tmp_path: Path) -> None:
    """A runner that never pauses: every checkpoint of the thread leaves the frames
    committed while it ran, so only the runner's own COMMIT at the backstop lets the
    log start over: past 16 MiB, not 64 as before."""
    store = ProjectionStore(tmp_path / "p.db", "p")
    try:
        written = 0
        i = 0
        while written < 96 * MIB:
            async with store.transaction(i + 1) as tx:
                for k in range(4):
                    await tx.collection("docs").put(f"doc-{i}-{k}", {"text": "x" * PAGE})
            written += 4 * PAGE
            i += 1
        wal = (tmp_path / "p.db-wal").stat().st_size
        # 16 MiB, or a few times that: the log starts over only when a COMMIT begins with
        # every frame copied and no other connection at a checkpoint, which the thread's
        # own checkpoints delay by chance. Not the 64 MiB and more of the old backstop.
        assert wal < 48 * MIB
        assert store.rows("SELECT count(*) FROM doc_docs")[0][0] == 4 * i
    finally:
        store.close()
