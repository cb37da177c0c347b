"""One Server-Sent Events frame as bytes.

Its own module because both the fan-out (which encodes each frame once for every
listener) and the stream response (which writes them) need it, and neither
should import the other for it.
"""

from __future__ import annotations

__all__ = ["format_event"]


def format_event(data: str, *, ident: str | None = None, event: str | None = None) -> bytes:
    """``data`` as one frame; a newline in it becomes another ``data:`` line, as SSE requires."""
    lines = []
    if ident is not None:
        lines.append(f"id: {ident}")
    if event is not None:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()
