"""The PostgreSQL journal: many writers, many processes, no reader ever skips.

Design (docs/journal.md has the long form):

- Appends group-commit (``writer``): what arrives together shares one
  transaction and one round trip, one savepoint per append only when a
  constraint breaks. No table lock and no mutex: writers of different streams
  never wait for each other; writers of one stream queue on its ``streams``
  row, and the ``(stream, version)`` primary key is the last guard.
- Positions come from a sequence, so a transaction can take a smaller position
  and commit after one that took a larger. Every row therefore carries its
  transaction id (``tx``, an ``xid8``), and readers go in ``(tx, position)``
  order and only below the oldest running transaction
  (``pg_snapshot_xmin(pg_current_snapshot())``): every transaction there has
  finished, so nothing can still appear behind the reader. It may wait; it
  never skips.
- A big snapshot is written in parts, one transaction each, and made the
  snapshot by one last small statement (``snapshots``).
- A reader's cursor is ``(tx, position)``. Callers see only the position: the
  journal looks up the event's ``tx`` (``cursor_at``), deleted events included.
- Readers are woken by LISTEN/NOTIFY and a slow fallback poll (``listen``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from kiroku.domain.closing import ClosesOnExit
from kiroku.domain.envelope import NewEvent, StoredEvent
from kiroku.domain.streams import validate_stream
from kiroku.errors import EventNotFoundError, InputError, JournalClosedError
from kiroku.journal.checks import check_append
from kiroku.journal.postgres import queries as q
from kiroku.journal.postgres import snapshots
from kiroku.journal.postgres.connections import Connections
from kiroku.journal.postgres.errors import describe_target
from kiroku.journal.postgres.follow import Horizon, HorizonWatch, follow
from kiroku.journal.postgres.listen import Listener, Notifier, Wakeup
from kiroku.journal.postgres.rows import START, Append, Cursor, to_stored
from kiroku.journal.postgres.writer import GroupWriter, WriterStats
from kiroku.journal.protocol import AppendResult, ExpectedVersion, Snapshot

__all__ = ["Horizon", "PostgreSQLJournal"]

log = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")


class PostgreSQLJournal(ClosesOnExit):
    """A Journal in a PostgreSQL schema. Create it with ``await PostgreSQLJournal.open(dsn)``."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str,
        readers: int,
        connect_timeout: float,
        poll_interval: float,
        horizon_warning: float,
        prepared_statements: bool = True,
    ) -> None:
        """Prefer ``open``: this only wires the parts; ``open`` starts them."""
        if not _SCHEMA_NAME.fullmatch(schema):
            raise InputError(f"schema must be a lowercase SQL identifier, got {schema!r}")
        if readers < 1 or poll_interval <= 0:
            raise InputError(
                f"readers must be >= 1 and poll_interval > 0: {readers}, {poll_interval}"
            )
        self.conninfo = conninfo
        self.schema = schema
        self.target = describe_target(conninfo)
        self.channel = f"kiroku_journal_{schema}"
        self.poll_interval = poll_interval
        self.horizon_warning = horizon_warning
        self._db = Connections(
            conninfo,
            schema=schema,
            target=self.target,
            readers=readers,
            connect_timeout=connect_timeout,
            prepared_statements=prepared_statements,
        )
        self._wakeup = Wakeup()
        self._watch = HorizonWatch(self.target, horizon_warning)
        self._writer: GroupWriter | None = None
        self._notifier: Notifier | None = None
        self._listener: Listener | None = None

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        schema: str = "kiroku",
        readers: int = 4,
        writers: int = 1,
        max_batch: int = 1000,
        connect_timeout: float = 5.0,
        poll_interval: float = 2.0,
        horizon_warning: float = 10.0,
        create: bool = True,
        prepared_statements: bool = True,
    ) -> PostgreSQLJournal:
        """Connect to ``dsn`` and use the journal in ``schema``.

        ``create`` applies missing migrations first (``kiroku db migrate`` does
        the same; turn it off where the application role may not create tables).
        ``writers`` transactions may group-commit at once, each of up to
        ``max_batch`` appends; ``writers=N, max_batch=1`` is one transaction per
        append. Readers poll every ``poll_interval`` seconds when no NOTIFY
        arrives, and log a warning once a transaction has held them back for
        ``horizon_warning`` seconds. ``prepared_statements=False`` for poolers
        that cannot keep them (pgbouncer in transaction mode before 1.21).
        Unreachable: StorageUnavailableError.
        """
        if writers < 1 or max_batch < 1:
            raise InputError(f"writers and max_batch must be >= 1, got {writers}, {max_batch}")
        journal = cls(
            dsn,
            schema=schema,
            readers=readers,
            connect_timeout=connect_timeout,
            poll_interval=poll_interval,
            horizon_warning=horizon_warning,
            prepared_statements=prepared_statements,
        )
        await journal._db.open(create=create)
        journal._notifier = Notifier(journal._db.connect, journal.channel)
        journal._listener = Listener(journal._db.connect, journal.channel, journal._wakeup)
        journal._writer = GroupWriter(
            journal._db.connect,
            journal._committed,
            journal.target,
            writers=writers,
            max_batch=max_batch,
        )
        return journal

    def __repr__(self) -> str:
        return f"PostgreSQLJournal({self.target!r}, schema={self.schema!r})"

    # -- state -------------------------------------------------------------------

    def _committed(self, head: int) -> None:
        self._wakeup.wake()
        if self._notifier is not None:
            self._notifier.committed(head)

    @property
    def stats(self) -> WriterStats:
        assert self._writer is not None
        return self._writer.stats

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up (readers fall back to polling when not)."""
        return self._listener is not None and self._listener.connected

    @property
    def listener_pid(self) -> int | None:
        return None if self._listener is None else self._listener.backend_pid

    @property
    def held_back_seconds(self) -> float:
        """How long the longest-waiting subscriber has seen events it may not read yet."""
        return self._watch.held_back_seconds

    # -- writes ------------------------------------------------------------------

    async def append(
        self, stream: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> AppendResult:
        self._db.check_open()
        check_append(stream, expected_version, events)
        assert self._writer is not None
        return await self._writer.submit(Append.of(stream, expected_version, events))

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        validate_stream(snapshot.stream)
        await snapshots.save(self._db, snapshot)

    async def delete_before(self, stream: str, version: int) -> int:
        validate_stream(stream)
        doing = f"deleting {stream} before version {version}"
        return int(await self._db.scalar(doing, q.DELETE_BEFORE, (stream, version)))

    # -- reads -------------------------------------------------------------------

    async def read_stream(
        self, stream: str, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        hi = 2**62 if to_version is None else to_version
        rows = await self._db.fetch(
            f"reading stream {stream}", q.READ_STREAM, (stream, from_version, hi)
        )
        return to_stored(rows)

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Events after the one at ``after_position``, in the order subscribers get them.

        That is ``(tx, position)`` order below the horizon: position order
        whenever transactions commit in the order they began.
        """
        doing = f"reading after position {after_position}"
        return to_stored(await self._db.fetch(doing, q.READ_FROM_POSITION, (after_position, limit)))

    def subscribe(
        self, after_position: int = 0, batch_size: int = 1000
    ) -> AsyncIterator[list[StoredEvent]]:
        self._db.check_open()
        return self._follow(after_position, batch_size)

    async def _follow(self, after: int, batch_size: int) -> AsyncIterator[list[StoredEvent]]:
        try:
            cursor = await self._cursor_at(after)
            batches = follow(
                self._db.fetch, self._wakeup, self._watch, cursor, batch_size, self.poll_interval
            )
            try:
                async for batch in batches:
                    yield batch
            finally:
                await batches.aclose()
        except JournalClosedError:  # closed while a read was in flight: the end, not an error
            return

    async def _cursor_at(self, position: int) -> Cursor:
        if position <= 0:
            return START
        rows = await self._db.fetch(f"finding position {position}", q.CURSOR_AT, (position,))
        return START if not rows or rows[0][0] is None else (rows[0][0], rows[0][1])

    async def horizon(self) -> Horizon:
        rows = await self._db.fetch("reading the horizon", q.HORIZON)
        xmin, waiting, age = rows[0]
        return Horizon(xmin, int(waiting), float(age))

    async def head_position(self) -> int:
        return int(await self._db.scalar("reading the head position", q.HEAD_POSITION))

    async def read_order(self, positions: Sequence[int]) -> dict[int, tuple[int, int]]:
        """Each event's ``(tx, position)``: the order readers deliver in, so a
        runner's read-your-writes can tell whether its cursor passed a position."""
        rows = await self._db.fetch("reading the delivery order", q.READ_ORDER, (list(positions),))
        return {int(p): (int(tx), int(p)) for p, tx in rows}

    async def stream_version(self, stream: str) -> int:
        found = await self._db.scalar(f"reading {stream}", q.STREAM_VERSION, (stream,))
        return 0 if found is None else int(found)

    async def get_event(self, position: int) -> StoredEvent:
        rows = await self._db.fetch(f"reading {position}", q.GET_EVENT, (position,))
        if not rows:
            raise EventNotFoundError(position)
        return to_stored(rows)[0]

    async def find_event(self, event_id: uuid.UUID) -> StoredEvent:
        rows = await self._db.fetch(f"finding {event_id}", q.FIND_EVENT, (event_id,))
        if not rows:
            raise EventNotFoundError(str(event_id))
        return to_stored(rows)[0]

    async def position_at(self, when: datetime) -> int:
        self._db.check_open()
        if when.tzinfo is None:
            raise InputError(f"position_at needs a timezone-aware datetime, got {when}")
        found = await self._db.scalar(f"finding {when}", q.POSITION_AT, (when,))
        return 0 if found is None else int(found)

    async def load_snapshot(self, stream: str) -> Snapshot | None:
        return await snapshots.load(self._db, stream)

    async def close(self) -> None:
        """Finish the appends already queued, wake and end subscribers, close connections."""
        if self._db.closed:
            return
        if self._writer is not None:
            await self._writer.close()
        self._db.closed = True
        if self._notifier is not None:
            await self._notifier.close()
        if self._listener is not None:
            await self._listener.close()
        self._wakeup.close()
        await self._db.close()
