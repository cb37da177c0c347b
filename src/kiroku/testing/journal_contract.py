"""The journal contract, kept importable here; it lives in ``contracts.journal``."""

from kiroku.testing.contracts.journal import JournalContract, JournalFactory, new_events

__all__ = ["JournalContract", "JournalFactory", "new_events"]
