"""The chat keeps its event types to itself: an app of one's own that uses the
default registry lists only its own types in ``kiroku schema`` and the catalog."""

from __future__ import annotations

import importlib

from kiroku import DEFAULT_REGISTRY


def test_the_chat_does_not_register_into_the_default_registry() -> None:
    chat = importlib.import_module("kiroku.apps.chat")
    assert "chat.MessagePosted" in chat.app.registry
    assert "kiroku.EventRetracted" in chat.app.registry  # retractions decode too
    assert not [n for n in DEFAULT_REGISTRY.types if n.startswith("chat.")]
