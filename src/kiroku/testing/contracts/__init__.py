"""Contract suites (pytest) that every backend subclasses in a few lines.

``contracts.journal``: the Journal protocol, by concern. ``contracts.checkpoint``:
a read store's checkpoint, stream versions and ledger, written in one
transaction with the read model. ``contracts.bus``: a message bus (in-process
and NATS JetStream). Importing this package needs pytest.
"""

import pytest

# Registered before the suites are imported, so a failing assert in them shows
# the values, as in a test file.
pytest.register_assert_rewrite(
    "kiroku.testing.contracts.journal",
    "kiroku.testing.contracts.checkpoint",
    "kiroku.testing.contracts.bus",
)
