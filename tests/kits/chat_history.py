"""A realistic chat history, seeded: what replay, rebuild and backend comparisons run on."""

from __future__ import annotations

import contextlib
import random

from kiroku import DomainError
from kiroku.apps.chat import commands as c
from kiroku.apps.chat.room import Room
from kiroku.runtime import Runtime

__all__ = ["USERS", "conversation"]

USERS = ("ann", "bob", "cy", "dee")


async def conversation(runtime: Runtime, seed: int, steps: int) -> None:
    """Rooms, joins, leaves and re-joins, posts, edits, deletions, read marks, renames."""
    rng = random.Random(seed)
    rooms = [f"r{i}" for i in range(4)]
    posted: dict[str, list[str]] = {r: [] for r in rooms}
    for room in rooms:
        await runtime.execute(Room, room, c.CreateRoom(room, f"room {room}", "ann", ("bob",)))
    for step in range(steps):
        room = rng.choice(rooms)
        user = rng.choice(USERS)
        pick = rng.random()
        if pick < 0.45 or not posted[room]:
            command: c.RoomCommand = c.PostMessage(room, f"m{step}", f"note {step} {user}", "ann")
            posted[room].append(f"m{step}")
        elif pick < 0.55:
            command = c.EditMessage(room, rng.choice(posted[room]), f"edited {step}", "ann")
        elif pick < 0.62:
            command = c.DeleteMessage(room, rng.choice(posted[room]), "ann")
        elif pick < 0.75:
            command = c.MarkRead(room, rng.choice(posted[room]), rng.choice(("ann", "bob")))
        elif pick < 0.85:
            command = c.AddMember(room, user, "ann")
        elif pick < 0.95:
            command = c.RemoveMember(room, user, "ann")
        else:
            command = c.RenameRoom(room, f"renamed {step}", "ann")
        with contextlib.suppress(DomainError):  # the aggregate said no: nothing appended
            await runtime.execute(Room, room, command)
