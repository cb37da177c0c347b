"""An app's hold-back consumers and process managers, run by a host with one call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from test_runtime import REGISTRY, AccountDecider, Deposit, Open, Opened, make

from kiroku import App, MemoryJournal, Recorded
from kiroku.app import HOLDS_FILE
from kiroku.catalog.process import ProcessManager, Send
from kiroku.corrections import EventRetracted, ManualClock, RetractionService
from kiroku.domain.envelope import utc_now
from kiroku.errors import ConfigError


class Welcome(ProcessManager):
    """Every account opened gets a welcome deposit."""

    name: ClassVar[str] = "welcome"
    handles: ClassVar[tuple[type, ...]] = (Opened,)
    sends: ClassVar[tuple[type, ...]] = (Deposit,)

    async def react(self, event: Recorded[object]) -> Sequence[Send]:
        return [Send(AccountDecider, event.stream_id, Deposit(10))]


class Ledger:
    """A hold-back consumer: records what it acted on, after a day."""

    name = "ledger"
    hold = timedelta(days=1)
    handles: tuple[type, ...] = (Opened,)

    def __init__(self) -> None:
        self.acted: list[int] = []

    async def act(self, event: Recorded[object]) -> None:
        self.acted.append(event.position)

    async def compensate(
        self, retraction: Recorded[EventRetracted], original: Recorded[object]
    ) -> None:
        raise AssertionError("nothing was retracted")


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait (bounded by iterations, not by a clock) until ``condition()`` holds."""
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def test_an_app_refuses_consumers_it_cannot_run() -> None:
    with pytest.raises(ConfigError, match="neither a ProcessManager nor a hold-back consumer"):
        App("x", REGISTRY, consumers=[object()])
    with pytest.raises(ConfigError, match=r"consumer names used twice: \['welcome'\]"):
        App("x", REGISTRY, consumers=[Welcome(), Welcome()])


async def test_a_process_manager_reacts_through_the_runtime(tmp_path: Path) -> None:
    journal = MemoryJournal()
    app = App("bank", REGISTRY, deciders=[AccountDecider()], consumers=[Welcome()])
    async with make(journal) as runtime:
        async with app.run_consumers(journal, runtime, tmp_path):
            await runtime.execute(AccountDecider, "a1", Open("ann"))

            async def deposited() -> bool:
                return await journal.head_position() >= 2

            await until(deposited, "the welcome deposit")
        assert (await runtime.state(AccountDecider, "a1")).balance == 10
        async with app.run_consumers(journal, runtime, tmp_path) as again:
            await again.runners[0].step()  # a restart resumes from its checkpoint
        assert (await runtime.state(AccountDecider, "a1")).balance == 10
    assert (tmp_path / HOLDS_FILE).exists()


async def test_a_hold_back_consumer_acts_once_the_hold_has_passed(tmp_path: Path) -> None:
    journal = MemoryJournal()
    ledger, clock = Ledger(), ManualClock(utc_now())
    app = App("bank", REGISTRY, deciders=[AccountDecider()], consumers=[ledger])
    async with make(journal) as runtime:
        opened = await runtime.execute(AccountDecider, "a1", Open("ann"))
        async with app.run_consumers(journal, runtime, tmp_path, clock=clock) as group:
            await group.runners[0].step()
            assert ledger.acted == []
            clock.advance(timedelta(days=1, seconds=1))

            async def released() -> bool:
                return ledger.acted == [opened.position]

            await until(released, "the release")


async def test_a_retraction_after_a_reaction_is_reported_not_undone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = MemoryJournal()
    app = App("bank", REGISTRY, deciders=[AccountDecider()], consumers=[Welcome()])
    async with make(journal) as runtime:
        opened = await runtime.execute(AccountDecider, "a1", Open("ann"))
        group = app.run_consumers(journal, runtime, tmp_path)  # driven by hand: not started
        await group.runners[0].step()
        await RetractionService(journal).retract(opened.position, reason="test", by="ops")
        await group.runners[0].step()  # the app's registry does not know EventRetracted
        await group.close()
        assert (await runtime.state(AccountDecider, "a1")).balance == 10
    assert "welcome reacted to position 1, retracted at 3: its commands stand" in caplog.text
