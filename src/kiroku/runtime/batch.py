"""Deciding a batch of one stream's commands, and answering each once it is durable.

An actor that finds several commands waiting takes up to ``max_batch`` of them
and decides them here in mailbox order, each against the state the earlier
ones produced, so every command sees exactly the state it would have seen had
they run one at a time. The accepted commands' events then go to the journal
in one append (one durable commit for all of them); only when it returns is
each caller answered, with its own versions, positions and state.

Nothing is answered before the append's outcome is known, rejections
included: a rejection decided against a state that holds earlier commands'
unwritten events is only true if those events get written. When the append
loses a race, the actor catches up and decides the whole batch again.

A bug in ``decide`` or ``evolve`` ends the plan at that command: the commands
before it are appended (they were decided against a sound state), it fails
with AggregateCrashedError, and the commands after it go back to the front of
the mailbox, to be decided against the state rebuilt from the journal, just
as they would have been one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Generic, TypeAlias, TypeVar

import msgspec

from kiroku.domain.decider import Decider
from kiroku.domain.envelope import NewEvent, Recorded, utc_now
from kiroku.domain.ids import new_event_id
from kiroku.errors import (
    AggregateCrashedError,
    DomainError,
    IdempotencyKeyReusedError,
    KirokuError,
)
from kiroku.journal.protocol import AppendResult, Journal
from kiroku.runtime.receipts import ReceiptBook, ensure_same, key_name
from kiroku.runtime.result import IDEMPOTENCY_KEY, CommandResult, Receipt, recorded_from_new
from kiroku.runtime.settings import CommandOptions
from kiroku.schema.codec import Codec

__all__ = ["Job", "Plan", "Planner"]

S = TypeVar("S")
C = TypeVar("C")
E = TypeVar("E")

# A queued command: (command, options, reply). A tuple, not a dataclass: it is
# built once per command on the hot path.
Job: TypeAlias = tuple[object, CommandOptions, "asyncio.Future[object]"]


# The steps of a plan are Structs, not dataclasses: one or more is built per command.


class _Accepted(msgspec.Struct, Generic[S, E]):
    """A command whose events are in the plan; its result exists once they are appended."""

    reply: asyncio.Future[object]
    key: str | None
    decided: Sequence[E]
    start: int  # the index of its first event among the plan's events
    state: S  # right after its own events
    result: CommandResult[S, E] | None = None


class _Answered(msgspec.Struct, frozen=True):
    """A command that appends nothing: a rejection, a known key, or nothing decided."""

    reply: asyncio.Future[object]
    outcome: object
    error: BaseException | None = None


class _Repeat(msgspec.Struct, Generic[S, E], frozen=True):
    """A command whose key an earlier command of the same batch already used."""

    reply: asyncio.Future[object]
    first: _Accepted[S, E]


class Plan(Generic[S, E]):
    """The decisions of one batch, in mailbox order, waiting for the append."""

    def __init__(self, stream: str, version: int, state: S) -> None:
        self.stream = stream
        self.version = version  # the expected version of the append
        self.state = state  # evolved through every accepted command so far
        self.events: list[NewEvent] = []
        self.crash: AggregateCrashedError | None = None
        self.rest: list[Job] = []  # the commands after a crash, to be decided again
        self._steps: list[_Accepted[S, E] | _Answered | _Repeat[S, E]] = []

    def accept(
        self,
        reply: asyncio.Future[object],
        key: str | None,
        decided: Sequence[E],
        new: list[NewEvent],
        state: S,
    ) -> _Accepted[S, E]:
        step = _Accepted(reply, key, decided, len(self.events), state)
        self.events += new
        self.state = state
        self._steps.append(step)
        return step

    def answer(self, reply: asyncio.Future[object], outcome: object) -> None:
        self._steps.append(_Answered(reply, outcome))

    def nothing(self, reply: asyncio.Future[object]) -> None:
        """A command that decided no events: the version and state as it found them."""
        now = self.version + len(self.events)
        self._steps.append(_Answered(reply, CommandResult(self.stream, now, 0, 0, (), self.state)))

    def reject(self, reply: asyncio.Future[object], error: BaseException) -> None:
        self._steps.append(_Answered(reply, None, error))

    def repeat(self, reply: asyncio.Future[object], first: _Accepted[S, E]) -> None:
        self._steps.append(_Repeat(reply, first))

    def crashed(
        self, reply: asyncio.Future[object], error: AggregateCrashedError, rest: list[Job]
    ) -> None:
        self.reject(reply, error)
        self.crash, self.rest = error, rest

    def settle(self, appended: AppendResult | None, book: ReceiptBook[S, E]) -> None:
        """Answer every command in order, remembering the keyed ones' results in ``book``."""
        for step in self._steps:
            if isinstance(step, _Accepted):
                assert appended is not None  # accepted events exist only with an append
                step.result = result = self._result(step, appended)
                if step.key is not None:
                    book.remember(Receipt.of(step.key, result), result)
                _reply(step.reply, result)
            elif isinstance(step, _Repeat):
                assert step.first.result is not None  # the first one is settled before it
                _reply(step.reply, step.first.result.as_duplicate())
            elif step.error is not None:
                _fail(step.reply, step.error)
            else:
                _reply(step.reply, step.outcome)

    def _result(self, step: _Accepted[S, E], appended: AppendResult) -> CommandResult[S, E]:
        base = appended.version - len(self.events) + step.start
        first = appended.first_position + step.start
        new, stream, decided = self.events, self.stream, step.decided
        events: tuple[Recorded[E], ...]
        if len(decided) == 1:  # most commands: no generator
            events = (recorded_from_new(stream, base + 1, first, new[step.start], decided[0]),)
        else:
            events = tuple(
                recorded_from_new(stream, base + 1 + i, first + i, new[step.start + i], d)
                for i, d in enumerate(decided)
            )
        count = len(events)
        return CommandResult(stream, base + count, first, first + count - 1, events, step.state)


class Planner(Generic[S, C, E]):
    """Decides batches for one stream's actor; holds no state of its own between batches."""

    def __init__(
        self,
        journal: Journal,
        codec: Codec,
        decider: Decider[S, C, E],
        stream: str,
        book: ReceiptBook[S, E],
    ) -> None:
        self._journal = journal
        self._codec = codec
        self._decider = decider
        self._stream = stream
        self._book = book

    async def plan(self, jobs: Sequence[Job], state: S, version: int) -> Plan[S, E]:
        """Decide ``jobs`` in order from ``state`` at ``version``; nothing is written here."""
        plan: Plan[S, E] = Plan(self._stream, version, state)
        in_batch: dict[str, _Accepted[S, E]] = {}
        for index, (command, options, reply) in enumerate(jobs):
            key = options.idempotency_key
            if key is not None:
                try:
                    if (seen := await self._duplicate(key, plan.state)) is not None:
                        plan.answer(reply, seen)
                        continue
                    if (first := in_batch.get(key_name(key))) is not None:
                        ensure_same(first.key or "", key)
                        plan.repeat(reply, first)
                        continue
                except IdempotencyKeyReusedError as e:
                    plan.reject(reply, e)
                    continue
            try:
                decided = self._decide(command, plan.state)  # type: ignore[arg-type]  # the runtime routes only C here
                after = self._evolve(plan.state, decided)
            except DomainError as e:
                plan.reject(reply, e)
                continue
            except AggregateCrashedError as e:
                plan.crashed(reply, e, list(jobs[index + 1 :]))
                break
            if not decided:
                plan.nothing(reply)
                continue
            accepted = plan.accept(reply, key, decided, self._encode(decided, options), after)
            if key is not None and self._book.capacity > 0:  # a window of 0 remembers no key
                in_batch[key_name(key)] = accepted
        return plan

    def _decide(self, command: C, state: S) -> Sequence[E]:
        try:
            return self._decider.decide(command, state)
        except DomainError:
            raise
        except Exception as e:
            raise AggregateCrashedError(self._stream, e) from e

    def _evolve(self, state: S, events: Sequence[E]) -> S:
        evolve = self._decider.evolve
        try:
            for event in events:
                state = evolve(state, event)
        except KirokuError:
            raise
        except Exception as e:
            raise AggregateCrashedError(self._stream, e) from e
        return state

    def _encode(self, events: Sequence[E], options: CommandOptions) -> list[NewEvent]:
        metadata = options.metadata
        if options.idempotency_key is not None:
            metadata = {**(metadata or {}), IDEMPOTENCY_KEY: options.idempotency_key}
        new, now = self._codec.new_event, utc_now()  # one clock read per command
        correlation, causation = options.correlation_id, options.causation_id
        if metadata is None:
            return [new(e, new_event_id(), now, correlation, causation, {}) for e in events]
        return [new(e, new_event_id(), now, correlation, causation, metadata) for e in events]

    async def _duplicate(self, key: str, state: S) -> CommandResult[S, E] | None:
        entry = self._book.get(key)
        if entry is None:
            return None
        if entry.result is not None:
            return entry.result.as_duplicate()
        return await self._answer_from_receipt(entry.receipt, state)

    async def _answer_from_receipt(self, receipt: Receipt, state: S) -> CommandResult[S, E]:
        """A key known only from a snapshot: re-read its events if retention kept them.

        The state then is the current state: the state right after that command
        is no longer at hand (it would take a replay the snapshot exists to avoid).
        """
        stored = await self._journal.read_stream(
            self._stream, receipt.first_version, receipt.version
        )
        expected = receipt.version - receipt.first_version + 1
        events: tuple[Recorded[E], ...] = ()
        if len(stored) == expected:
            events = tuple(self._codec.decode(s) for s in stored)  # type: ignore[misc]  # decoded as E
        return CommandResult(
            self._stream,
            receipt.version,
            receipt.first_position,
            receipt.position,
            events,
            state,
            duplicate=True,
        )


def _reply(reply: asyncio.Future[object], outcome: object) -> None:
    if not reply.done():
        reply.set_result(outcome)


def _fail(reply: asyncio.Future[object], error: BaseException) -> None:
    if not reply.done():
        reply.set_exception(error)
