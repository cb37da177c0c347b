"""The write side's engine: one asyncio actor per live aggregate.

``Runtime.execute`` routes a command to its stream's actor, which decides it
against the state in memory (together with the commands queued behind it),
appends the events, evolves the state, and answers once the append is durable. See docs/runtime.md.
"""

from kiroku.runtime.result import IDEMPOTENCY_KEY, CommandResult, Receipt
from kiroku.runtime.runtime import Runtime
from kiroku.runtime.settings import Retention

__all__ = ["IDEMPOTENCY_KEY", "CommandResult", "Receipt", "Retention", "Runtime"]
