"""Properties of the runtime over random command sequences (hypothesis)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_runtime import REGISTRY, Account, AccountDecider, Command, Deposit, Open, Touch, make

from kiroku import Codec, DomainError, IdempotencyKeyReusedError, MemoryJournal

commands = st.one_of(
    st.builds(Open, st.sampled_from(["ann", "bob"])),
    st.builds(Deposit, st.integers(-50, 50)),
    st.just(Touch()),
)
keys = st.none() | st.sampled_from(["k1", "k2", "k3", "k4"])
ids = st.sampled_from(["a1", "b2", "c3"])
PROPERTY = settings(max_examples=60, deadline=None)


async def _journal_fold(journal: MemoryJournal, stream: str) -> Account:
    codec = Codec(REGISTRY)
    events = [codec.decode(e).data for e in await journal.read_stream(stream)]
    return AccountDecider().fold(events)  # type: ignore[arg-type]


@PROPERTY
@given(st.lists(st.tuples(ids, commands), max_size=40), st.sampled_from([None, 1, 3, 7]))
def test_the_state_held_equals_the_fold_of_what_decide_produced(
    script: list[tuple[str, Command]], snapshot_every: int | None
) -> None:
    async def run() -> None:
        journal = MemoryJournal()
        decided: dict[str, list[object]] = {}
        async with make(journal, snapshot_every=snapshot_every) as runtime:
            for ident, command in script:
                try:
                    result = await runtime.execute(AccountDecider, ident, command)
                except DomainError:
                    continue
                decided.setdefault(ident, []).extend(e.data for e in result.events)
                assert result.state == AccountDecider().fold(decided[ident])  # type: ignore[arg-type]
            held = {i: await runtime.state(AccountDecider, i) for i in decided}
        async with make(journal) as restarted:  # recovery from snapshot + later events
            for ident, state in held.items():
                assert await restarted.state(AccountDecider, ident) == state
                assert await _journal_fold(journal, f"account-{ident}") == state
                assert await restarted.state_at(AccountDecider, ident) == state

    asyncio.run(run())


@PROPERTY
@given(
    st.lists(st.tuples(keys, st.integers(1, 9), st.booleans()), max_size=30),
    st.sampled_from([None, 3, 50]),
)
def test_a_retried_key_is_a_no_op(
    script: list[tuple[str | None, int, bool]], snapshot_every: int | None
) -> None:
    """Also across restarts (a new runtime on the same journal) at random points; the
    same key with another amount is refused and appends nothing."""

    async def run() -> None:
        journal = MemoryJournal()
        firsts: dict[str, tuple[int, int, int]] = {}
        runtime = make(journal, snapshot_every=snapshot_every)
        await runtime.execute(AccountDecider, "a1", Open("ann"))
        for key, amount, restart in script:
            if restart:
                await runtime.close()
                runtime = make(journal, snapshot_every=snapshot_every)
            before = await journal.stream_version("account-a1")
            if key is not None and key in firsts and firsts[key][2] != amount:
                with pytest.raises(IdempotencyKeyReusedError):
                    await runtime.execute(
                        AccountDecider, "a1", Deposit(amount), idempotency_key=key
                    )
                assert await journal.stream_version("account-a1") == before
                continue
            result = await runtime.execute(
                AccountDecider, "a1", Deposit(amount), idempotency_key=key
            )
            if key is None or key not in firsts:
                assert result.version == before + 1
                assert not result.duplicate
                if key is not None:
                    firsts[key] = (result.version, result.position, amount)
            else:
                assert result.duplicate
                assert (result.version, result.position) == firsts[key][:2]
                assert await journal.stream_version("account-a1") == before
        await runtime.close()

    asyncio.run(run())


@PROPERTY
@given(st.lists(st.tuples(ids, st.integers(1, 9)), min_size=1, max_size=60))
def test_concurrent_commands_never_leave_a_gap_or_a_duplicate(
    script: list[tuple[str, int]],
) -> None:
    async def run() -> None:
        journal = MemoryJournal()
        async with make(journal, mailbox_size=100) as runtime:
            for ident in {i for i, _ in script}:
                await runtime.execute(AccountDecider, ident, Open(ident))
            results = await asyncio.gather(
                *(runtime.execute(AccountDecider, i, Deposit(n)) for i, n in script)
            )
        for ident in {i for i, _ in script}:
            versions = [e.version for e in await journal.read_stream(f"account-{ident}")]
            mine = sorted(r.version for r in results if r.stream == f"account-{ident}")
            assert versions == list(range(1, len(versions) + 1))
            assert mine == list(range(2, len(versions) + 1))
            total = sum(n for i, n in script if i == ident)
            assert await _journal_fold(journal, f"account-{ident}") == Account(ident, total)

    asyncio.run(run())
