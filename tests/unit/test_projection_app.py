"""The application bundle, and a runner noticing what another process did to its store."""

from __future__ import annotations

import pytest
from kits.domain import REGISTRY, Boards, Counts, Noted, Notes, Opened, append
from kits.hosts import HostMaker

from kiroku import App, ConfigError, MemoryJournal, ProjectionNotFoundError, load_app
from kiroku.projections import FailurePolicy

app = App("kit", REGISTRY, projections=[Boards(), Counts()])


def test_load_app_finds_the_bundle_by_reference() -> None:
    loaded = load_app("test_projection_app:app")
    assert loaded is app
    assert loaded.projection("test.counts").name == "test.counts"
    with pytest.raises(ProjectionNotFoundError, match=r"known: test\.boards, test\.counts"):
        loaded.projection("test.nope")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_colon", "looks like 'package.module:attr'"),
        ("no_such_module_here:app", "Cannot import the app module 'no_such_module_here'"),
        ("test_projection_app:missing", "is missing, not a kiroku.App"),
        ("test_projection_app:REGISTRY", "is Registry, not a kiroku.App"),
    ],
)
def test_load_app_says_what_is_wrong(ref: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_app(ref)


def test_an_app_refuses_doubled_names_and_stray_policies() -> None:
    with pytest.raises(ConfigError, match=r"used twice: \['test.boards'\]"):
        App("x", REGISTRY, projections=[Boards(), Boards()])
    with pytest.raises(ConfigError, match=r"unknown projections \['test.typo'\]"):
        App("x", REGISTRY, projections=[Boards()], policies={"test.typo": FailurePolicy()})


async def test_a_running_runner_reloads_after_another_process_replays(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"), Noted("x"))
    serving = make_host(journal, Notes())
    await serving.start()
    await serving.wait_for(2)
    operator = make_host(journal, Notes())  # another connection
    await operator.replay("test.notes", 2)
    await operator.close()  # the other process ends
    position = await append(journal, "board-1", Noted("y"))
    await serving.wait_for(position)
    assert serving.runner("test.notes").position == position  # replayed x, then y
    rows = await serving.reader("test.notes").query("SELECT count(*) FROM doc_notes")
    assert rows == [(2,)]  # x delivered again by the replay, then y: nothing lost, nothing stale
