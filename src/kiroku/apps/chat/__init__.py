"""The reference chat system: rooms, members and messages, event-sourced.

``app`` is the bundle ``kiroku serve`` runs (``--app kiroku.apps.chat:app``):
the ``Room`` aggregate on the write side and four read models on the read side.
"""

from __future__ import annotations

from kiroku import App, FailurePolicy
from kiroku.apps.chat.events import REGISTRY
from kiroku.apps.chat.room import Room, RoomState
from kiroku.apps.chat.views import History, Rooms, Search, Timeline

__all__ = ["Room", "RoomState", "app"]

app = App(
    "chat",
    REGISTRY,
    deciders=[Room()],
    projections=[Timeline(), Rooms(), History(), Search()],
    policies={"chat.search": FailurePolicy(on_exhausted="continue")},
)
"""The search index may park a bad event and go on; the other read models stop on one."""
