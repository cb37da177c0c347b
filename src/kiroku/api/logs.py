"""Log lines an operator can trust, written off the event loop.

Anything a client sends (a path, a query, a header) may end up in a log line,
so no record is written as it came: ``json`` writes one JSON object per line
(every control character escaped by the encoder, fields as fields, which is
what log pipelines want), and ``text`` escapes control characters in the line
(a ``%0a`` in a path cannot start a forged line, ESC cannot drive a terminal).
Continuation lines of a traceback are indented, so none can pass for a record.

Records go to a queue on the calling thread and are formatted and written by
a listener thread: a request on the event loop pays for building a record, not
for a ``write`` and a flush.

Secrets in queries are masked by :func:`masked_query` after decoding each
parameter's name the way the server does, so ``access%5Ftoken`` and
``%61ccess_token`` are masked like ``access_token``.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import queue
import re
import sys
from datetime import UTC, datetime
from typing import IO, Literal
from urllib.parse import unquote

__all__ = [
    "FIELDS",
    "JsonFormatter",
    "LogFormat",
    "QueuedLogging",
    "TextFormatter",
    "escape",
    "masked_query",
]

LogFormat = Literal["json", "text"]

FIELDS = "fields"
"""The ``extra`` key carrying a record's structured fields (a dict)."""

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
    """Puts the record itself on the queue: formatting happens on the listener's thread.

    The stock ``prepare`` formats on the caller's thread (to make records picklable
    for other processes); this queue stays in the process, so the record can travel
    as it is. Arguments are formatted there too, so records must not carry objects
    that change after the call (log values, not live objects).
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
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
        self._queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._listener: logging.handlers.QueueListener | None = None
        self._saved: tuple[list[logging.Handler], int] | None = None

    def __enter__(self) -> QueuedLogging:
        output = logging.StreamHandler(self.stream)
        output.setFormatter(self.formatter)
        root = logging.getLogger()
        self._saved = (root.handlers[:], root.level)
        root.handlers = [_Enqueue(self._queue)]
        root.setLevel(self.level)
        self._listener = logging.handlers.QueueListener(self._queue, output)
        self._listener.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._listener is not None:
            self._listener.stop()  # writes what is queued, then joins the thread
        if self._saved is not None:
            root = logging.getLogger()
            root.handlers, level = self._saved
            root.setLevel(level)
