"""Settings for the whole suite.

Hypothesis: no per-example deadline (a shared 2-core machine makes timings
noisy, and tests never judge speed), and under CI the examples are derived
from each test rather than drawn at random, so a run is reproducible; locally
they stay random, to keep finding new cases.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))  # the shared test kits: ``from kits import ...``

pytest_plugins = ["kits.hosts"]  # the ``make_host`` fixture

settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")
