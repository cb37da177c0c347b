"""One live aggregate: a task, a bounded mailbox, and the state in memory.

Commands for a stream are decided strictly in mailbox order by its actor, so
two commands can never interleave their decisions. The state in memory is the
working truth: a command is decided against it and the actor evolves it with
the events it just decided, without reading the journal first or decoding what
it wrote. The journal is consulted only to recover (first command, or after a
crash) and to catch up when another process won a write (WrongExpectedVersion).

A command that finds the actor parked on an empty mailbox is served on the
caller's own task (``call``), with the same code the actor's task runs: no
hand-off to the actor's task and back, which is most of the asyncio work of a
command. It first yields once, so that a burst of commands sent together still
queues up and is handed to the actor's task as one batch; commands that arrive
while it is served queue in the mailbox, and the actor's task serves them, in
order, once it is answered.

When several commands are already waiting, the actor takes up to ``max_batch``
of them at once and appends all their events in one call (see batch.py): one
durable commit serves them all, instead of one commit each. It never waits for
more commands to arrive, so a lone command is not delayed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from kiroku.domain.decider import Decider
from kiroku.errors import (
    AggregateCrashedError,
    OverloadedError,
    RetriesExhaustedError,
    RuntimeClosedError,
    WrongExpectedVersionError,
)
from kiroku.journal.protocol import Journal
from kiroku.runtime.batch import Job, Plan, Planner
from kiroku.runtime.receipts import ReceiptBook
from kiroku.runtime.recovery import Rehydrator
from kiroku.runtime.settings import CommandOptions, Settings
from kiroku.runtime.snapshots import Snapshotter
from kiroku.schema.codec import Codec

__all__ = ["QUERY", "REFRESH", "Actor"]

log = logging.getLogger(__name__)

S = TypeVar("S")
C = TypeVar("C")
E = TypeVar("E")

QUERY = object()
"""Sent instead of a command to ask for the state; it goes through the mailbox so it
sees every command queued before it."""

REFRESH = object()
"""Queued to make the actor forget its state and recover it on the next command:
after a retraction the state in memory may hold the voided event's effect."""


class Actor(Generic[S, C, E]):
    def __init__(
        self,
        journal: Journal,
        codec: Codec,
        decider: Decider[S, C, E],
        stream: str,
        settings: Settings,
        on_exit: Callable[[Actor[S, C, E]], None],
    ) -> None:
        self.stream = stream
        self.idle = False  # waiting on an empty mailbox: safe to passivate at once
        self.idle_since = 0.0  # loop time when it last became idle
        self._loop = asyncio.get_running_loop()
        self._journal = journal
        self._codec = codec
        self._decider = decider
        self._settings = settings
        self._on_exit = on_exit
        self._mailbox: deque[Job | None] = deque()  # None: stop after what is before it
        self._wakeup: asyncio.Future[None] | None = None
        self._serving_caller = False  # a command is being served on its caller's task
        self._rehydrator = Rehydrator(journal, codec, decider, stream)
        self._snapshotter = Snapshotter(journal, codec, decider, stream, settings)
        self._book: ReceiptBook[S, E] = ReceiptBook(settings.idempotency_window)
        self._planner = Planner(journal, codec, decider, stream, self._book)
        self._loaded = False
        self._state: S = decider.initial
        self._version = 0
        self.task = self._loop.create_task(self._run(), name=f"actor {stream}")

    # -- the outside ----------------------------------------------------------

    async def call(self, command: object, options: CommandOptions) -> object:
        """The result of ``command`` (or a QUERY): served on this task if it finds the
        actor parked and nothing else arrives meanwhile, by the actor's task otherwise."""
        if self._wakeup is None or self._serving_caller or self._mailbox:
            return await self.ask(command, options)
        self._serving_caller, self.idle = True, False  # the mailbox does not wake the task
        reply: asyncio.Future[object] = self._loop.create_future()
        job: Job = (command, options, reply)
        mailbox = self._mailbox
        mailbox.append(job)
        try:
            await asyncio.sleep(0)  # let a burst queue up behind: it is then one batch
            if len(mailbox) == 1 and mailbox[0] is job:  # only ours
                mailbox.popleft()
                if command is QUERY:
                    await self._serve_control(job)
                else:
                    await self._serve_batch([job])
        finally:
            self._serving_caller = False
            if self._mailbox:  # the burst (ours with it), or what came while we served
                self._wake()
            else:
                self.idle, self.idle_since = True, self._loop.time()
        return await reply

    def ask(self, command: object, options: CommandOptions) -> asyncio.Future[object]:
        """Queue ``command``; the future holds its result. Refuses at once when full."""
        mailbox = self._mailbox
        if len(mailbox) >= self._settings.mailbox_size:
            raise OverloadedError(self.stream, self._settings.mailbox_size)
        reply: asyncio.Future[object] = self._loop.create_future()
        mailbox.append((command, options, reply))
        self._wake()
        return reply

    def refresh(self) -> None:
        """Recover from the journal before the next command queued after this call.

        Goes through the mailbox, past its cap, so commands already queued are
        served first and no command decided after it sees the old state.
        """
        reply: asyncio.Future[object] = self._loop.create_future()
        self._mailbox.append((REFRESH, CommandOptions(), reply))
        self._wake()

    def stop(self) -> None:
        """Finish what is queued, then exit. The caller has already unregistered us."""
        self._mailbox.append(None)
        self._wake()

    def _wake(self) -> None:
        if self._serving_caller:  # woken when that command is answered (call)
            return
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    # -- the loop ---------------------------------------------------------------

    async def _run(self) -> None:
        """Serve the mailbox in order; sleep on a future when it is empty."""
        mailbox = self._mailbox
        try:
            while True:
                while mailbox:
                    job = mailbox.popleft()
                    if job is None:
                        await self._snapshotter.settled()
                        return
                    if job[2].done():  # a caller that gave up is not served
                        continue
                    if job[0] is QUERY or job[0] is REFRESH:
                        await self._answering([job], self._serve_control(job))
                    else:
                        batch = self._take_batch(job)
                        await self._answering(batch, self._serve_batch(batch))
                await self._sleep()
        finally:
            self._snapshotter.cancel()  # only still running if this task was torn down
            self._on_exit(self)
            self._refuse_leftovers()

    def _take_batch(self, job: Job) -> list[Job]:
        """``job`` and the commands queued right behind it, up to ``max_batch``.

        A query, a refresh or a stop ends the batch: each must see every
        command queued before it, and none queued after it.
        """
        batch, mailbox, limit = [job], self._mailbox, self._settings.max_batch
        while mailbox and len(batch) < limit:
            following = mailbox[0]
            if following is None or following[0] is QUERY or following[0] is REFRESH:
                break
            mailbox.popleft()
            if not following[2].done():
                batch.append(following)
        return batch

    async def _answering(self, jobs: list[Job], work: Awaitable[None]) -> None:
        """Await ``work``; if this task is torn down meanwhile, every caller still hears."""
        try:
            await work
        except BaseException:
            for job in jobs:
                _reply_error(job[2], RuntimeClosedError(self.stream))
            raise

    async def _sleep(self) -> None:
        self.idle, self.idle_since = True, self._loop.time()
        self._wakeup = self._loop.create_future()
        try:
            await self._wakeup
        finally:
            self._wakeup, self.idle = None, False

    def _refuse_leftovers(self) -> None:
        while self._mailbox:
            job = self._mailbox.popleft()
            if job is not None:
                _reply_error(job[2], RuntimeClosedError(self.stream))

    async def _serve_control(self, job: Job) -> None:
        """A refresh (forget the state) or a query (answer with it)."""
        if job[0] is REFRESH:
            self._loaded = False
            job[2].set_result(None)
            return
        try:
            if not self._loaded:
                await self._recover()
        except Exception as e:
            self._failed(e)
            _reply_error(job[2], e)
            return
        if not job[2].done():
            job[2].set_result(self._state)

    async def _serve_batch(self, jobs: list[Job]) -> None:
        """Decide, append and answer ``jobs``; then a crash's aftermath or a snapshot."""
        try:
            if not self._loaded:
                await self._recover()
            plan = await self._execute(jobs)
        except Exception as e:  # the journal failed, recovery failed, or retries ran out:
            self._failed(e)  # no command of the batch is acknowledged
            for job in jobs:
                _reply_error(job[2], e)
            return
        if plan.crash is not None:
            self._crashed(plan.crash)
            self._mailbox.extendleft(reversed(plan.rest))  # decided again, on a rebuilt state
        elif self._snapshotter.due(self._version):
            self._snapshotter.start(self._state, self._version, self._book)

    def _failed(self, error: Exception) -> None:
        """Believe the journal, not memory, next time; a bug is also logged loudly."""
        if isinstance(error, AggregateCrashedError):
            self._crashed(error)
        self._loaded = False

    def _crashed(self, error: AggregateCrashedError) -> None:
        """Erlang's answer to a bug: forget this actor's state, rebuild it from the journal."""
        log.error("%s", error, exc_info=error.__cause__)
        self._loaded = False

    async def _recover(self) -> None:
        await self._snapshotter.settled()  # its retention must not race our reads
        loaded = await self._rehydrator.load(self._book)
        self._state, self._version = loaded.state, loaded.version
        self._snapshotter.recovered(loaded.snapshot_version)
        self._loaded = True
        log.debug("stream %s: recovered at version %d", self.stream, self._version)

    async def _catch_up(self) -> None:
        loaded = await self._rehydrator.catch_up(self._state, self._version, self._book)
        if loaded is None:
            await self._recover()
        else:
            self._state, self._version = loaded.state, loaded.version

    # -- a batch of commands -------------------------------------------------

    async def _execute(self, jobs: list[Job]) -> Plan[S, E]:
        """Decide ``jobs``, append their events at once, answer each; retry lost races."""
        attempts = self._settings.max_retries + 1
        for attempt in range(1, attempts + 1):
            plan = await self._planner.plan(jobs, self._state, self._version)
            if not plan.events:
                plan.settle(None, self._book)
                return plan
            try:
                appended = await self._journal.append(self.stream, self._version, plan.events)
            except WrongExpectedVersionError as e:
                log.info(
                    "stream %s: %s; reloading (attempt %d of %d)", self.stream, e, attempt, attempts
                )
                await self._catch_up()
                continue
            except BaseException:
                self._loaded = False  # the outcome is unknown: believe the journal next time
                raise
            self._state, self._version = plan.state, appended.version
            plan.settle(appended, self._book)
            return plan
        raise RetriesExhaustedError(self.stream, attempts)


def _reply_error(reply: asyncio.Future[object], error: BaseException) -> None:
    if not reply.done():
        reply.set_exception(error)
