"""The runtime on MemoryJournal: routing, rejection, crashes, overload, retries, closing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest

from kiroku import (
    AggregateCrashedError,
    Codec,
    ConfigError,
    Decider,
    DomainError,
    JournalError,
    MemoryJournal,
    NewEvent,
    OverloadedError,
    Registry,
    RetriesExhaustedError,
    RuntimeClosedError,
    event,
)
from kiroku.journal.protocol import AppendResult, ExpectedVersion
from kiroku.runtime import Runtime

REGISTRY = Registry()


@event("t.account.Opened", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Opened:
    owner: str


@event("t.account.Deposited", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Deposited:
    amount: int


@event("t.account.Cursed", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Cursed:
    """An event whose evolve step raises: a bug in evolve."""


@dataclass(frozen=True, slots=True)
class Account:
    owner: str = ""
    balance: int = 0


@dataclass(frozen=True, slots=True)
class Open:
    owner: str


@dataclass(frozen=True, slots=True)
class Deposit:
    amount: int


@dataclass(frozen=True, slots=True)
class Touch:
    """Decides nothing."""


@dataclass(frozen=True, slots=True)
class Explode:
    """decide raises an unexpected exception: a bug in decide."""


@dataclass(frozen=True, slots=True)
class Curse:
    """decide returns an event that evolve cannot apply."""


Command = Open | Deposit | Touch | Explode | Curse
Event = Opened | Deposited | Cursed


class NotOpenError(DomainError):
    pass


class AccountDecider(Decider[Account, Command, Event]):
    category = "account"
    initial = Account()

    def decide(self, command: Command, state: Account) -> Sequence[Event]:
        match command:
            case Open(owner):
                return [] if state.owner else [Opened(owner)]
            case Deposit(amount):
                if not state.owner:
                    raise NotOpenError(f"account is not open (deposit of {amount})")
                return [Deposited(amount)]
            case Touch():
                return []
            case Explode():
                raise ZeroDivisionError("decide blew up")
            case Curse():
                return [Cursed()]
        raise AssertionError(command)

    def evolve(self, state: Account, event: Event) -> Account:
        match event:
            case Opened(owner):
                return replace(state, owner=owner)
            case Deposited(amount):
                return replace(state, balance=state.balance + amount)
            case Cursed():
                raise KeyError("evolve blew up")
        raise AssertionError(event)


def make(journal: MemoryJournal, **settings: object) -> Runtime:
    return Runtime(journal, [AccountDecider()], codec=Codec(REGISTRY), **settings)  # type: ignore[arg-type]


async def test_a_command_appends_its_events_and_returns_the_new_state() -> None:
    journal = MemoryJournal()
    async with make(journal) as runtime:
        opened = await runtime.execute(AccountDecider, "a1", Open("ann"))
        result = await runtime.execute(AccountDecider, "a1", Deposit(5), correlation_id="c-1")
    assert (opened.stream, opened.version, opened.first_position, opened.position) == (
        "account-a1",
        1,
        1,
        1,
    )
    assert result.version == 2
    assert result.state == Account("ann", 5)
    assert [e.data for e in result.events] == [Deposited(5)]
    assert result.events[0].correlation_id == "c-1"
    stored = await journal.read_stream("account-a1")
    assert [(e.type, e.version, e.position) for e in stored] == [
        ("t.account.Opened", 1, 1),
        ("t.account.Deposited", 2, 2),
    ]
    assert stored[1].event_id == result.events[0].event_id


async def test_a_rejection_appends_nothing_and_keeps_the_state() -> None:
    journal = MemoryJournal()
    async with make(journal) as runtime:
        with pytest.raises(NotOpenError, match="deposit of 3"):
            await runtime.execute(AccountDecider, "a1", Deposit(3))
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        assert await runtime.state(AccountDecider, "a1") == Account("ann", 0)
    assert await journal.stream_version("account-a1") == 1


async def test_a_command_that_decides_nothing_returns_the_current_version() -> None:
    async with make(MemoryJournal()) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        result = await runtime.execute(AccountDecider, "a1", Touch())
    assert (result.version, result.events, result.first_position) == (1, (), 0)
    assert result.state == Account("ann", 0)


async def test_a_bug_in_decide_crashes_only_that_command_and_actor() -> None:
    journal = MemoryJournal()
    async with make(journal) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        await runtime.execute(AccountDecider, "b2", Open("bob"))
        with pytest.raises(AggregateCrashedError, match=r"account-a1 crashed \(ZeroDivisionError"):
            await runtime.execute(AccountDecider, "a1", Explode())
        assert (await runtime.execute(AccountDecider, "b2", Deposit(1))).state.balance == 1
        # the crashed actor rebuilt its state from the journal and carries on
        assert (await runtime.execute(AccountDecider, "a1", Deposit(2))).state == Account("ann", 2)


async def test_a_bug_in_evolve_appends_nothing(caplog: pytest.LogCaptureFixture) -> None:
    journal = MemoryJournal()
    async with make(journal) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        with caplog.at_level(logging.ERROR), pytest.raises(AggregateCrashedError, match="KeyError"):
            await runtime.execute(AccountDecider, "a1", Curse())
        assert await journal.stream_version("account-a1") == 1
        assert "account-a1 crashed" in caplog.text
        assert await runtime.state(AccountDecider, "a1") == Account("ann", 0)


class GatedJournal(MemoryJournal):
    """Appends wait for a gate, so a test can hold an actor busy."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def append(
        self, stream: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> AppendResult:
        self.waiting.set()
        await self.gate.wait()
        return await super().append(stream, expected_version, events)


async def test_a_full_mailbox_refuses_at_once_and_queues_nothing() -> None:
    journal = GatedJournal()
    async with make(journal, mailbox_size=2) as runtime:
        busy = asyncio.create_task(runtime.execute(AccountDecider, "a1", Open("ann")))
        await journal.waiting.wait()  # the actor is inside append; its mailbox is empty
        queued = [
            asyncio.create_task(runtime.execute(AccountDecider, "a1", Deposit(n))) for n in (1, 2)
        ]
        await asyncio.sleep(0)
        with pytest.raises(OverloadedError, match=r"account-a1 .* mailbox of 2 is full") as info:
            await runtime.execute(AccountDecider, "a1", Deposit(100))
        assert info.value.retryable
        # another stream is not affected by a1's full mailbox
        other = asyncio.create_task(runtime.execute(AccountDecider, "b2", Open("bob")))
        journal.gate.set()
        await asyncio.gather(busy, *queued, other)
    assert await journal.stream_version("account-a1") == 3
    events = await journal.read_stream("account-a1")
    assert b"100" not in b"".join(e.data for e in events)


async def test_concurrent_commands_on_one_stream_run_one_at_a_time() -> None:
    journal = MemoryJournal()
    async with make(journal) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        results = await asyncio.gather(
            *(runtime.execute(AccountDecider, "a1", Deposit(n)) for n in range(1, 51))
        )
    assert sorted(r.version for r in results) == list(range(2, 52))
    assert [e.version for e in await journal.read_stream("account-a1")] == list(range(1, 52))
    assert max(results, key=lambda r: r.version).state.balance == sum(range(1, 51))


async def test_a_foreign_write_is_caught_up_and_the_command_re_decided() -> None:
    journal = MemoryJournal()
    codec = Codec(REGISTRY)
    async with make(journal) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        # another process writes to the stream behind the live actor's back
        await journal.append("account-a1", 1, [codec.encode(Deposited(40))])
        result = await runtime.execute(AccountDecider, "a1", Deposit(2))
    assert (result.version, result.state.balance) == (3, 42)


class RacingJournal(MemoryJournal):
    """Another writer always gets in first: every append of ours loses the race."""

    def __init__(self, codec: Codec) -> None:
        super().__init__()
        self.codec = codec
        self.attempts = 0
        self.racing = False

    async def append(
        self, stream: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> AppendResult:
        if self.racing:
            self.attempts += 1
            await super().append(stream, expected_version, [self.codec.encode(Deposited(1))])
        return await super().append(stream, expected_version, events)


async def test_losing_every_race_is_bounded_by_max_retries() -> None:
    journal = RacingJournal(Codec(REGISTRY))
    async with make(journal, max_retries=3) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        journal.racing = True
        with pytest.raises(RetriesExhaustedError, match=r"account-a1: gave up after 4 attempts"):
            await runtime.execute(AccountDecider, "a1", Deposit(5))
        journal.racing = False
        # the actor caught up with every foreign event it lost to
        assert await runtime.state(AccountDecider, "a1") == Account("ann", 4)
    assert journal.attempts == 4


async def test_close_drains_mailboxes_then_refuses() -> None:
    journal = MemoryJournal()
    runtime = make(journal)
    await runtime.execute(AccountDecider, "a1", Open("ann"))
    pending = [
        asyncio.create_task(runtime.execute(AccountDecider, "a1", Deposit(1))) for _ in range(20)
    ]
    await asyncio.sleep(0)
    await runtime.close()
    assert all(t.done() for t in pending)
    assert [t.result().version for t in pending] == list(range(2, 22))
    with pytest.raises(RuntimeClosedError, match="account-a1"):
        await runtime.execute(AccountDecider, "a1", Deposit(1))
    assert runtime.live == 0


async def test_unknown_deciders_and_shared_categories_are_config_errors() -> None:
    class Other(AccountDecider):
        pass

    with pytest.raises(ConfigError, match="share the category 'account'"):
        Runtime(MemoryJournal(), [AccountDecider(), Other()])
    async with Runtime(MemoryJournal(), [AccountDecider], codec=Codec(REGISTRY)) as runtime:
        with pytest.raises(ConfigError, match=r"'.*Other' is not a decider of this runtime"):
            await runtime.execute(Other, "a1", Open("x"))


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("mailbox_size", 0),
        ("max_live", 0),
        ("max_retries", -1),
        ("idle_timeout", 0.0),
        ("max_batch", 0),
    ],
)
def test_bad_settings_name_the_setting(setting: str, value: object) -> None:
    with pytest.raises(ConfigError, match=setting):
        make(MemoryJournal(), **{setting: value})


class LossyAckJournal(MemoryJournal):
    """Commits an append but loses the acknowledgement once: the outcome is unknown."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_next = False

    async def append(
        self, stream: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> AppendResult:
        result = await super().append(stream, expected_version, events)
        if self.lose_next:
            self.lose_next = False
            raise JournalError(f"connection lost after committing to {stream}")
        return result


async def test_after_an_unknown_append_outcome_the_actor_believes_the_journal() -> None:
    journal = LossyAckJournal()
    async with make(journal) as runtime:
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        journal.lose_next = True
        with pytest.raises(JournalError, match="connection lost"):
            await runtime.execute(AccountDecider, "a1", Deposit(5))
        result = await runtime.execute(AccountDecider, "a1", Deposit(1))
    assert (result.version, result.state) == (3, Account("ann", 6))
