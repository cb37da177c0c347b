"""Runner states after rebuild and replay, replay progress, and gaps left by retention."""

from __future__ import annotations

from pathlib import Path

from kits.domain import CODEC, Boards, Noted, Notes, Opened, append
from kits.hosts import HostMaker

from kiroku import MemoryJournal
from kiroku.projections import (
    Outcome,
    Progress,
    ProjectionRunner,
    ProjectionStore,
    RunnerState,
)


async def notes(n: int) -> MemoryJournal:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("b"))
    for i in range(n):
        await append(journal, "board-1", Noted(f"n{i}"))
    return journal


async def test_a_rebuilt_runner_is_running_once_caught_up(make_host: HostMaker) -> None:
    journal = await notes(5)
    host = make_host(journal, Boards(), batch_size=2)
    await host.start()
    await host.wait_for(6)
    await host.rebuild("test.boards")
    status = (await host.status())[0]
    assert (status.state, status.lag_events) == (RunnerState.RUNNING, 0)


async def test_a_replayed_runner_is_running_once_caught_up(make_host: HostMaker) -> None:
    journal = await notes(5)
    host = make_host(journal, Notes(), batch_size=2)
    await host.start()
    await host.wait_for(6)
    await host.replay("test.notes", 6, lambda p: None)  # waits until caught up
    status = (await host.status())[0]
    assert (status.state, status.lag_events) == (RunnerState.RUNNING, 0)


async def test_a_replay_reports_progress_like_a_rebuild(make_host: HostMaker) -> None:
    journal = await notes(9)
    host = make_host(journal, Notes(), batch_size=3)
    await host.catch_up()
    reports: list[Progress] = []
    first = await host.replay("test.notes", 2, reports.append)
    assert first == 2
    assert host.runner("test.notes").position == 10
    assert len(reports) >= 3
    assert reports[-1].position == reports[-1].target == 10
    assert reports[-1].events == 9


async def test_a_running_replay_reports_progress_until_caught_up(make_host: HostMaker) -> None:
    journal = await notes(9)
    host = make_host(journal, Notes(), batch_size=3)
    await host.start()
    await host.wait_for(10)
    reports: list[Progress] = []
    await host.replay("test.notes", 2, reports.append)
    assert reports[-1].position == reports[-1].target == 10
    assert len(host.runner("test.notes").listeners) == 1  # the host's own: the meter is gone


async def test_a_replay_without_progress_only_rewinds(make_host: HostMaker) -> None:
    journal = await notes(3)
    host = make_host(journal, Notes())
    await host.catch_up()
    await host.replay("test.notes", 2)
    assert host.runner("test.notes").position == 1


async def test_a_rebuild_after_retention_accepts_the_deleted_gap_on_the_record(
    make_host: HostMaker,
) -> None:
    journal = await notes(5)
    assert await journal.delete_before("board-1", 4) == 3  # versions 1..3 are gone
    host = make_host(journal, Boards())
    await host.catch_up()
    runner = host.runner("test.boards")
    assert runner.position == 6
    doc = await host.reader("test.boards").collection("boards").get("1")
    assert doc is not None
    assert doc["notes"] == ["n2", "n3", "n4"]
    _, [entry] = await host.ledger(4)
    assert entry.outcome is Outcome.APPLIED
    assert entry.detail is not None
    assert "versions 1..3 of board-1 were deleted" in entry.detail


async def test_a_gap_the_journal_cannot_explain_still_waits(tmp_path: Path) -> None:
    ahead = await notes(2)  # another journal's board-1 version 3: not in ours yet
    journal = await notes(0)
    store = ProjectionStore(tmp_path / "boards.db", "test.boards")
    runner = ProjectionRunner(Boards(), journal, store, codec=CODEC)
    await runner.run(follow=False)
    [v3] = await ahead.read_stream("board-1", 3)
    await runner.process([v3])
    doc = await store.reader().collection("boards").get("1")
    assert doc is not None
    assert doc["notes"] == []
    assert runner.committer.deferred == {"board-1": {3: v3}}
    store.close()


async def test_a_runner_follows_inside_async_with_and_stops_after(tmp_path: Path) -> None:
    journal = await notes(2)
    store = ProjectionStore(tmp_path / "boards.db", "test.boards")
    async with ProjectionRunner(Boards(), journal, store, codec=CODEC) as runner:
        await runner.wait_for(3)
        assert runner.running
    assert not runner.running
    assert runner.state is RunnerState.STOPPED
    store.close()
