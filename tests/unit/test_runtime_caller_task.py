"""A command that finds its actor parked is served on the caller's task; what
arrives meanwhile queues and is served after it, in order, as one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from test_runtime_batching import REGISTRY, Deposit, Open, Wallet, WalletDecider

from kiroku import Codec, MemoryJournal, NewEvent
from kiroku.journal.protocol import AppendResult, ExpectedVersion
from kiroku.runtime import CommandResult, Runtime


class GatedJournal(MemoryJournal):
    """Appends wait for ``gate`` (while it is cleared), as a durable commit waits."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.sizes: list[int] = []
        self.waiting = asyncio.Event()

    async def append(
        self, stream: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> AppendResult:
        self.sizes.append(len(events))
        self.waiting.set()
        await self.gate.wait()
        return await super().append(stream, expected_version, events)


def make(journal: MemoryJournal) -> Runtime:
    return Runtime(journal, [WalletDecider()], codec=Codec(REGISTRY))


async def deposit(runtime: Runtime, amount: int) -> CommandResult[Wallet, object]:
    return await runtime.execute(WalletDecider, "w1", Deposit(amount))


async def test_commands_sent_while_one_is_appended_follow_it_as_one_batch() -> None:
    journal = GatedJournal()
    async with make(journal) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        journal.gate.clear()
        journal.waiting.clear()
        first = asyncio.create_task(deposit(runtime, 1))
        await journal.waiting.wait()  # the first is being appended, on its own task
        rest = [asyncio.create_task(deposit(runtime, n)) for n in range(2, 12)]
        await asyncio.sleep(0)
        journal.gate.set()
        results = [await first, *[await t for t in rest]]
        assert await runtime.state(WalletDecider, "w1") == Wallet("ann", 66, 11)
    assert journal.sizes == [1, 1, 10]
    assert [r.version for r in results] == list(range(2, 13))  # in the order sent
    assert [r.state.balance for r in results] == [sum(range(1, n + 1)) for n in range(1, 12)]


async def test_a_caller_cancelled_mid_append_leaves_the_actor_sound() -> None:
    journal = GatedJournal()
    async with make(journal) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        journal.gate.clear()
        journal.waiting.clear()
        doomed = asyncio.create_task(deposit(runtime, 5))
        await journal.waiting.wait()
        behind = asyncio.create_task(deposit(runtime, 7))
        await asyncio.sleep(0)
        doomed.cancel()
        journal.gate.set()
        result = await behind
        assert doomed.cancelled()
        # the cancelled append never reached the journal; the state in memory agrees
        assert result.state == Wallet("ann", 7, 1)
        assert await runtime.state(WalletDecider, "w1") == Wallet("ann", 7, 1)
        assert (await deposit(runtime, 1)).version == 3
