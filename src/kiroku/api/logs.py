"""Log lines an operator can trust, written off the event loop.

Anything a client sends (a path, a query, a header) may end up in a log line,
so no record is written as it came: ``json`` writes one JSON object per line
(every control character escaped by the encoder, fields as fields, which is
what log pipelines want), and ``text`` escapes control characters in the line
(a ``%0a`` in a path cannot start a forged line, ESC cannot drive a terminal).
Continuation lines of a traceback are indented, so none can pass for a record.

Records go to a queue on the calling thread and are formatted and written by
a writer thread: a request on the event loop pays for building a record, not
for a ``write`` and a flush. The writer takes what has queued every
:data:`WRITE_EVERY` seconds at most and writes it in one call, so a busy server
makes a few writes a second, not one (and one thread wake-up) per request.
Access records, one per request, are cheaper still: :func:`enqueue` puts their
parts on the queue and the writer thread builds the ``LogRecord`` (at the
default level ``info`` the stock path cost ~30 µs of the HTTP process's CPU per
request, ~18 %, under the posting load).

Secrets in queries are masked by :func:`masked_query` after decoding each
parameter's name the way the server does, so ``access%5Ftoken`` and
``%61ccess_token`` are masked like ``access_token``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import queue
import re
import sys
import threading
import time
from datetime import UTC, datetime
from typing import IO, Literal
from urllib.parse import unquote

__all__ = [
    "FIELDS",
    "JsonFormatter",
    "LogFormat",
    "QueuedLogging",
    "TextFormatter",
    "enqueue",
    "escape",
    "masked_query",
]

LogFormat = Literal["json", "text"]

FIELDS = "fields"
"""The ``extra`` key carrying a record's structured fields (a dict)."""

WRITE_EVERY = 0.02
"""Seconds the writer thread lets records gather before it writes them (at most)."""

SECRET_PARAMETERS = frozenset({"access_token", "token", "password"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    """``text`` with every control character (C0, DEL, C1, line separators) as an escape."""
    return _CONTROL.sub(_escaped, text)


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def masked_query(raw: str) -> str:
    """The query string with the values of secret parameters replaced by ``***``.

    Each name is decoded as the server decodes it (``+`` as space, then percent
    escapes as UTF-8), so no spelling of ``access_token`` is logged in clear.
    """
    if not raw:
        return raw
    pieces = []
    for piece in raw.split("&"):
        name, eq, _ = piece.partition("=")
        decoded = unquote(name.replace("+", " "), errors="replace").strip().lower()
        pieces.append(f"{name}=***" if eq and decoded in SECRET_PARAMETERS else piece)
    return "&".join(pieces)


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then its fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            line.update({k: v for k, v in fields.items() if k not in line})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, ensure_ascii=True, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, with the message's control characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        head = f"{_time(record)} {record.levelname} {record.name}: "
        line = head + escape(record.getMessage())
        error = self.formatException(record.exc_info) if record.exc_info else record.exc_text
        if error:
            line += "".join("\n    " + escape(part) for part in error.splitlines())
        return line


class _Enqueue(logging.handlers.QueueHandler):
    """Puts the record itself on the queue: formatting happens on the writer's thread.

    The stock ``prepare`` formats on the caller's thread (to make records picklable
    for other processes); this queue stays in the process, so the record can travel
    as it is. Arguments are formatted there too, so records must not carry objects
    that change after the call (log values, not live objects).
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_Parts = tuple[float, str, int, str, tuple[object, ...], dict[str, object]]
"""An access record not built yet: time, logger, level, message, arguments, fields."""
_Queued = logging.LogRecord | _Parts | None  # None: stop

_active: QueuedLogging | None = None  # the installed QueuedLogging, for ``enqueue``


def enqueue(
    logger: logging.Logger, msg: str, args: tuple[object, ...], fields: dict[str, object]
) -> bool:
    """Queue an ``info`` record of ``logger`` as parts, to be built on the writer thread;
    False (nothing queued: log it the usual way) unless ``QueuedLogging`` is installed and
    ``logger`` has no handler or filter of its own that would need the record here."""
    active = _active
    if active is None or logger.handlers or logger.filters or not logger.propagate:
        return False
    active.queue.put((time.time(), logger.name, logging.INFO, msg, args, fields))
    return True


class _Writer(threading.Thread):
    """Formats and writes the queued records, what has gathered in one write."""

    def __init__(self, records: queue.SimpleQueue[_Queued], output: logging.Handler) -> None:
        super().__init__(name="kiroku-log-writer", daemon=True)
        self.records, self.output = records, output

    def run(self) -> None:
        while True:
            batch = [self.records.get()]  # sleeps until there is something to write
            if batch[0] is not None:
                time.sleep(WRITE_EVERY)  # let more gather: one wake-up, one write for all
            with contextlib.suppress(queue.Empty):
                while batch[-1] is not None:
                    batch.append(self.records.get_nowait())
            self._write([r for r in batch if r is not None])
            if batch[-1] is None:
                return

    def _write(self, batch: list[logging.LogRecord | _Parts]) -> None:
        lines = []
        for item in batch:
            record = item if isinstance(item, logging.LogRecord) else _built(item)
            try:
                lines.append(self.output.format(record) + "\n")
            except Exception:
                self.output.handleError(record)
        if lines:
            self.output.acquire()
            try:
                stream = getattr(self.output, "stream", sys.stderr)
                stream.write("".join(lines))
                stream.flush()
            except Exception:
                self.output.handleError(record)
            finally:
                self.output.release()


def _built(parts: _Parts) -> logging.LogRecord:
    created, name, level, msg, args, fields = parts
    record = logging.LogRecord(name, level, "", 0, msg, args, None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    setattr(record, FIELDS, fields)
    return record


class QueuedLogging:
    """The process's logging: root records through a queue to one stream, formatted.

    ``with QueuedLogging("info", "json"):`` installs it and, on exit, writes
    what is still queued and restores the previous handlers.
    """

    def __init__(self, level: str, fmt: LogFormat, stream: IO[str] | None = None) -> None:
        self.level = level.upper()
        self.formatter: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
        self.stream = stream if stream is not None else sys.stderr
        self.queue: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        self._writer: _Writer | None = None
        self._saved: tuple[list[logging.Handler], int, QueuedLogging | None] | None = None

    def __enter__(self) -> QueuedLogging:
        global _active
        output = logging.StreamHandler(self.stream)
        output.setFormatter(self.formatter)
        root = logging.getLogger()
        self._saved = (root.handlers[:], root.level, _active)
        root.handlers = [_Enqueue(self.queue)]
        root.setLevel(self.level)
        self._writer = _Writer(self.queue, output)
        self._writer.start()
        _active = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        if self._saved is not None:
            root = logging.getLogger()
            root.handlers, level, _active = self._saved
            root.setLevel(level)
        if self._writer is not None:
            self.queue.put(None)
            self._writer.join()  # writes what is queued first
