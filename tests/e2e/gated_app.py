"""The chat's own app with one gate, served by ``kiroku serve --app gated_app:app``
from this directory: ``chat.rooms`` holds every message at or after position
``$GATED_APP_AT`` for as long as the file ``$GATED_APP_FILE`` exists. A test
keeps a rebuild running for exactly as long as it needs (to kill or stop the
process running it, and to see it taken up again), with nothing racing a clock."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from kiroku import App, Recorded, Tx, handles
from kiroku.apps.chat import Room
from kiroku.apps.chat import app as chat
from kiroku.apps.chat import events as e
from kiroku.apps.chat.views import History, Rooms, Search, Timeline

__all__ = ["GATE_AT", "GATE_FILE", "app"]

GATE_FILE = "GATED_APP_FILE"
GATE_AT = "GATED_APP_AT"


async def _gate(position: int) -> None:
    held = os.environ.get(GATE_FILE)
    if held is None or position < int(os.environ.get(GATE_AT, "0")):
        return
    # the gate is a file another process removes: there is nothing to await but its absence
    while Path(held).exists():  # noqa: ASYNC110, ASYNC240 - polled, on purpose, while held
        await asyncio.sleep(0.02)


class GatedRooms(Rooms):
    @handles(e.MessagePosted)
    async def posted(self, tx: Tx, r: Recorded[e.MessagePosted]) -> None:
        await _gate(r.position)
        await super().posted(tx, r)


app = App(
    "chat",
    chat.registry,
    deciders=[Room()],
    projections=[Timeline(), GatedRooms(), History(), Search()],
    policies=chat.policies,
)
