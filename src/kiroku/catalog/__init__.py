"""The event catalog: declared flows between aggregates, checked and drawn.

- ``build_catalog(registry, deciders, consumers)`` -> ``Catalog``; ``check()``
  raises EventCycleError naming an event -> command -> event loop.
- ``ProcessManager`` / ``Send`` / ``ProcessManagerRunner``: consumers that send
  commands, run through the ``PinballGuard`` (causation depth at run time).
- ``lint`` (near-duplicate and foreign-field advice) and ``render``
  (table, mermaid, dot, json).
"""

from kiroku.catalog.introspect import command_types, emitted_types
from kiroku.catalog.lint import Advice, lint
from kiroku.catalog.model import (
    AggregateInfo,
    Catalog,
    ConsumerInfo,
    Edge,
    EventInfo,
    build_catalog,
)
from kiroku.catalog.pinball import DEPTH_KEY, PinballGuard, StoppedChain, depth_of
from kiroku.catalog.process import ProcessManager, Send
from kiroku.catalog.render import FORMATS, render
from kiroku.catalog.runner import CommandSender, ProcessManagerRunner, Reaction

__all__ = [
    "DEPTH_KEY",
    "FORMATS",
    "Advice",
    "AggregateInfo",
    "Catalog",
    "CommandSender",
    "ConsumerInfo",
    "Edge",
    "EventInfo",
    "PinballGuard",
    "ProcessManager",
    "ProcessManagerRunner",
    "Reaction",
    "Send",
    "StoppedChain",
    "build_catalog",
    "command_types",
    "depth_of",
    "emitted_types",
    "lint",
    "render",
]
