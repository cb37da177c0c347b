"""Public helpers for testing code built on kiroku.

``given(decider, *events).when(command).then(*events)`` checks a decider's
business rules without a journal or a runtime. ``JournalContract`` is the test
suite every Journal backend subclasses (see docs/journal.md); this package
needs pytest.
"""

import pytest

# The contract suites are pytest classes living in the package; register them
# before importing so a failing assert in them shows the values, as in a test file.
pytest.register_assert_rewrite("kiroku.testing.journal_contract")

from kiroku.testing.given import Given, When, given  # noqa: E402 (after the registration)
from kiroku.testing.journal_contract import JournalContract, JournalFactory  # noqa: E402

__all__ = ["Given", "JournalContract", "JournalFactory", "When", "given"]
