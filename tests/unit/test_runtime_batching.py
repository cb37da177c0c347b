"""Commands queued on one stream are decided in order and appended together.

Each test queues its commands before the actor runs (they are all sent in one
go, and MemoryJournal answers without waiting), so the batches are
deterministic; a counting journal shows how many appends were made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiroku import (
    AggregateCrashedError,
    Codec,
    Decider,
    DomainError,
    IdempotencyKeyReusedError,
    JournalError,
    MemoryJournal,
    NewEvent,
    Registry,
    Retention,
    event,
)
from kiroku.journal.protocol import AppendResult, ExpectedVersion
from kiroku.runtime import CommandResult, Runtime

REGISTRY = Registry()


@event("t.wallet.Opened", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Opened:
    owner: str


@event("t.wallet.Moved", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Moved:
    amount: int  # negative for a withdrawal


@event("t.wallet.Cursed", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Cursed:
    """evolve cannot apply it: a bug in evolve."""


@dataclass(frozen=True, slots=True)
class Wallet:
    owner: str = ""
    balance: int = 0
    moves: int = 0


@dataclass(frozen=True, slots=True)
class Open:
    owner: str


@dataclass(frozen=True, slots=True)
class Deposit:
    amount: int
    times: int = 1  # how many events it decides


@dataclass(frozen=True, slots=True)
class Withdraw:
    amount: int


@dataclass(frozen=True, slots=True)
class Touch:
    """Decides nothing."""


@dataclass(frozen=True, slots=True)
class Explode:
    """A bug in decide."""


@dataclass(frozen=True, slots=True)
class Curse:
    """A bug in evolve."""


Command = Open | Deposit | Withdraw | Touch | Explode | Curse
Event = Opened | Moved | Cursed


class InsufficientFundsError(DomainError):
    pass


class WalletDecider(Decider[Wallet, Command, Event]):
    category = "wallet"
    initial = Wallet()

    def decide(self, command: Command, state: Wallet) -> Sequence[Event]:
        match command:
            case Open(owner):
                return [] if state.owner else [Opened(owner)]
            case Deposit(amount, times):
                return [Moved(amount)] * times
            case Withdraw(amount):
                if amount > state.balance:
                    raise InsufficientFundsError(f"{amount} > balance {state.balance}")
                return [Moved(-amount)]
            case Touch():
                return []
            case Explode():
                raise ZeroDivisionError("decide blew up")
            case Curse():
                return [Cursed()]
        raise AssertionError(command)

    def evolve(self, state: Wallet, event: Event) -> Wallet:
        match event:
            case Opened(owner):
                return replace(state, owner=owner)
            case Moved(amount):
                return Wallet(state.owner, state.balance + amount, state.moves + 1)
            case Cursed():
                raise KeyError("evolve blew up")
        raise AssertionError(event)


class CountingJournal(MemoryJournal):
    """Counts appends and the events in each; ``fail_next`` / ``race_next`` break one."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []
        self.fail_next = False
        self.race_next: list[NewEvent] = []  # appended by "another process" just before ours

    async def append(
        self, stream: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> AppendResult:
        self.sizes.append(len(events))
        if self.fail_next:
            self.fail_next = False
            raise JournalError(f"disk full while appending to {stream}")
        if self.race_next:
            foreign, self.race_next = self.race_next, []
            await super().append(stream, expected_version, foreign)
        return await super().append(stream, expected_version, events)


def make(journal: MemoryJournal, **options: object) -> Runtime:
    return Runtime(journal, [WalletDecider()], codec=Codec(REGISTRY), **options)  # type: ignore[arg-type]


Keyed = tuple[Command, str | None]


async def send_together(runtime: Runtime, script: Sequence[Keyed]) -> list[object]:
    """Queue every command at once; each caller's result or exception, in order."""
    return await asyncio.gather(
        *(runtime.execute(WalletDecider, "w1", c, idempotency_key=k) for c, k in script),
        return_exceptions=True,
    )


async def send_one_by_one(runtime: Runtime, script: Sequence[Keyed]) -> list[object]:
    outcomes: list[object] = []
    for command, key in script:
        try:
            outcomes.append(
                await runtime.execute(WalletDecider, "w1", command, idempotency_key=key)
            )
        except Exception as e:
            outcomes.append(e)
    return outcomes


def comparable(outcome: object, duplicate_state: bool = True) -> object:
    """What a caller can observe, without the random event ids and clocks.

    ``duplicate_state=False`` leaves out a duplicate's state: a key known only
    through a snapshot (after a crash's recovery) is answered with the current
    state, and the two runs take their snapshots at different versions.
    """
    if isinstance(outcome, BaseException):
        return (type(outcome), str(outcome))
    assert isinstance(outcome, CommandResult)
    events = [(e.version, e.position, e.type, e.data, e.metadata) for e in outcome.events]
    state = outcome.state if duplicate_state or not outcome.duplicate else None
    return (outcome.version, outcome.first_position, outcome.position, events, state,
            outcome.duplicate)  # fmt: skip


async def stored(journal: MemoryJournal) -> list[tuple[object, ...]]:
    return [(e.version, e.position, e.type, e.data, e.metadata)
            for e in await journal.read_stream("wallet-w1")]  # fmt: skip


async def test_queued_commands_share_appends_and_get_their_own_results() -> None:
    journal = CountingJournal()
    async with make(journal) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        results = await send_together(runtime, [(Deposit(n), None) for n in range(1, 51)])
    assert journal.sizes == [1, 50]  # the open, then one append for all fifty
    accepted = [r for r in results if isinstance(r, CommandResult)]
    assert len(accepted) == 50
    ranges = sorted((r.first_version, r.version, r.first_position, r.position) for r in accepted)
    assert ranges == [(v, v, v, v) for v in range(2, 52)]  # disjoint and gapless
    for n, result in enumerate(results, 1):
        assert isinstance(result, CommandResult)
        assert result.state == Wallet("ann", sum(range(1, n + 1)), n)  # right after its own event
        assert [e.data for e in result.events] == [Moved(n)]


async def test_max_batch_bounds_each_append() -> None:
    journal = CountingJournal()
    async with make(journal, max_batch=8) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        await send_together(runtime, [(Deposit(1), None) for _ in range(50)])
    assert len(journal.sizes) < 51
    assert max(journal.sizes) <= 8
    assert sum(journal.sizes) == 51


async def test_a_query_ends_a_batch_and_sees_exactly_the_commands_before_it() -> None:
    journal = CountingJournal()
    async with make(journal) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        tasks = [
            asyncio.create_task(runtime.execute(WalletDecider, "w1", Deposit(n))) for n in (1, 2, 3)
        ]
        asked = asyncio.create_task(runtime.state(WalletDecider, "w1"))
        tasks += [
            asyncio.create_task(runtime.execute(WalletDecider, "w1", Deposit(n))) for n in (4, 5)
        ]
        await asyncio.gather(asked, *tasks)
    assert asked.result() == Wallet("ann", 6, 3)
    assert journal.sizes == [1, 3, 2]


async def test_a_rejection_in_the_middle_appends_nothing_of_it() -> None:
    journal = CountingJournal()
    async with make(journal) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        first, refused, last = await send_together(
            runtime, [(Deposit(5), None), (Withdraw(100), None), (Withdraw(2), None)]
        )
    assert isinstance(refused, InsufficientFundsError)
    assert "100 > balance 5" in str(refused)
    assert isinstance(first, CommandResult)
    assert isinstance(last, CommandResult)
    assert (first.version, last.version, last.state.balance) == (2, 3, 3)
    assert journal.sizes == [1, 2]
    assert [e[3] for e in await stored(journal)][1:] == [b'{"amount":5}', b'{"amount":-2}']


async def test_a_crash_fails_only_its_command_and_the_rest_are_decided_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The commands before it are appended; the ones after it go back to the mailbox."""
    journal = CountingJournal()
    async with make(journal) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        with caplog.at_level(logging.ERROR):
            before, crashed, cursed, after = await send_together(
                runtime,
                [(Deposit(1), None), (Explode(), None), (Curse(), None), (Deposit(2), None)],
            )
        assert isinstance(crashed, AggregateCrashedError)
        assert "ZeroDivisionError" in str(crashed)
        assert isinstance(cursed, AggregateCrashedError)
        assert "KeyError" in str(cursed)
        assert isinstance(before, CommandResult)
        assert isinstance(after, CommandResult)
        assert (before.version, after.version, after.state.balance) == (2, 3, 3)
        assert await runtime.state(WalletDecider, "w1") == Wallet("ann", 3, 2)
    assert journal.sizes == [1, 1, 1]  # the prefix; nothing for the crashes; the rest
    assert caplog.text.count("wallet-w1 crashed") == 2


async def test_a_key_used_twice_in_one_batch_is_a_duplicate_of_the_first() -> None:
    journal = CountingJournal()
    async with make(journal) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        first, second, reused, refused, retried = await send_together(
            runtime,
            [
                (Deposit(5), "k1"),
                (Deposit(5), "k1"),
                (Deposit(7), "k1"),
                (Withdraw(99), "k2"),
                (Deposit(3), "k2"),
            ],
        )
        later = await runtime.execute(WalletDecider, "w1", Deposit(5), idempotency_key="k1")
    assert isinstance(first, CommandResult)
    assert second == replace(first, duplicate=True)
    assert later == replace(first, duplicate=True)
    assert isinstance(reused, IdempotencyKeyReusedError)  # the same key, another command
    assert isinstance(refused, InsufficientFundsError)  # a rejection leaves no key behind
    assert isinstance(retried, CommandResult)
    assert not retried.duplicate
    assert retried.state == Wallet("ann", 8, 2)
    assert journal.sizes == [1, 2]


async def test_a_failed_append_fails_every_command_of_the_batch() -> None:
    journal = CountingJournal()
    async with make(journal) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        journal.fail_next = True
        outcomes = await send_together(
            runtime, [(Deposit(1), None), (Withdraw(50), None), (Deposit(2), "k")]
        )
        assert all(isinstance(o, JournalError) for o in outcomes)
        result = await runtime.execute(WalletDecider, "w1", Deposit(2), idempotency_key="k")
    assert not result.duplicate  # nothing was acknowledged, so the key is new
    assert (result.version, result.state) == (2, Wallet("ann", 2, 1))


async def test_a_lost_race_re_decides_the_whole_batch_rejections_included() -> None:
    journal = CountingJournal()
    codec = Codec(REGISTRY)
    async with make(journal) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        journal.race_next = [codec.encode(Moved(10))]
        deposit, withdrawal = await send_together(
            runtime, [(Deposit(1), None), (Withdraw(5), None)]
        )
    # first decided against balance 0 (the withdrawal refused), then against 10 after catch-up
    assert isinstance(deposit, CommandResult)
    assert isinstance(withdrawal, CommandResult)
    assert (deposit.version, withdrawal.version, withdrawal.state.balance) == (3, 4, 6)
    assert journal.sizes == [1, 1, 2]


async def test_snapshots_retention_and_keys_survive_batches_and_a_restart() -> None:
    journal = CountingJournal()
    script: list[Keyed] = [(Deposit(n, times=2), f"k{n}") for n in range(1, 21)]
    async with make(journal, snapshot_every=7, retention=Retention()) as runtime:
        await runtime.execute(WalletDecider, "w1", Open("ann"))
        firsts = await send_together(runtime, script)
        held = await runtime.state(WalletDecider, "w1")
    snapshot = await journal.load_snapshot("wallet-w1")
    assert snapshot is not None
    assert snapshot.version == 41
    assert await journal.read_stream("wallet-w1") == []  # retention deleted what it covers
    async with make(journal, snapshot_every=7) as restarted:
        assert await restarted.state(WalletDecider, "w1") == held == Wallet("ann", 420, 40)
        again = await send_together(restarted, script[:3])
    for first, duplicate in zip(firsts, again, strict=False):
        assert isinstance(first, CommandResult)
        assert isinstance(duplicate, CommandResult)
        assert duplicate.duplicate
        assert (duplicate.version, duplicate.first_position, duplicate.position) == (
            first.version,
            first.first_position,
            first.position,
        )


commands = st.one_of(
    st.builds(Open, st.sampled_from(["ann", "bob"])),
    st.builds(Deposit, st.integers(-5, 9), st.integers(0, 3)),
    st.builds(Withdraw, st.integers(1, 12)),
    st.just(Touch()),
    st.just(Explode()),
    st.just(Curse()),
)
keys = st.none() | st.sampled_from(["k1", "k2", "k3"])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(commands, keys), max_size=40),
    st.sampled_from([2, 3, 64]),
    st.sampled_from([None, 4]),
)
def test_batched_equals_one_at_a_time(
    script: list[Keyed], max_batch: int, snapshot_every: int | None
) -> None:
    """Same results per command, same events in the same order, same final state."""

    async def run() -> None:
        serial_journal, batched_journal = MemoryJournal(), CountingJournal()
        async with make(serial_journal, max_batch=1, snapshot_every=snapshot_every) as serial:
            expected = await send_one_by_one(serial, script)
            expected_state = await serial.state(WalletDecider, "w1")
        async with make(batched_journal, max_batch=max_batch, snapshot_every=snapshot_every) as rt:
            outcomes = await send_together(rt, script)
            state = await rt.state(WalletDecider, "w1")
        exact = snapshot_every is None
        assert [comparable(o, exact) for o in outcomes] == [comparable(o, exact) for o in expected]
        assert await stored(batched_journal) == await stored(serial_journal)
        assert state == expected_state
        accepted = sorted(
            (o.first_version, o.version)
            for o in outcomes
            if isinstance(o, CommandResult) and o.events and not o.duplicate
        )
        covered = [v for first, last in accepted for v in range(first, last + 1)]
        assert covered == list(range(1, len(await stored(batched_journal)) + 1))

    asyncio.run(run())
