"""Garbage collection for a long-running serving process.

CPython's cyclic collector walks every tracked container of the generation it
collects, with the GIL held. In ``kiroku serve`` the oldest generation is mostly
what start-up built (modules, classes, the app, the catalog, compiled routes):
some 70,000 objects in the chat's HTTP process, alive as long as the process.
Each full collection walked them all again, stalling every request for up to
37 ms. Under a steady posting load that was the largest source of tail
latency: at an offered 3,000 posts/s, p99 fell from ~50 ms to ~26 ms with the
two steps below and nothing else changed (``benchmarks/RESULTS.md``, "Seventh
release").

* :func:`settle` runs once, when the process is built and about to serve: one
  collection, then :func:`gc.freeze` moves every survivor to the permanent
  generation, which collections skip. Frozen objects are still freed by
  reference counting; only a cycle among them that becomes garbage later is
  never collected, and start-up's objects live until the process ends.
* The youngest generation's threshold is raised from 700 to
  :data:`YOUNG_THRESHOLD` allocations. A request's objects die by reference
  counting long before any threshold, so young collections mostly walk
  survivors; fewer of them cost less in all and promote less to the older
  generations, which are then collected less often.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle"]

YOUNG_THRESHOLD = 20_000
"""Net container allocations between young collections (CPython's default: 700).

Chosen by measurement at an offered 3,000 posts/s: p99 22-24 ms at 20,000, against
34 ms at 50,000, 44-49 ms at 2,000, 5,000 and 100,000, and ~50 ms at 700."""

OLDER_THRESHOLDS = (50, 100)
"""Young collections per middle one, middle ones per full one (defaults: 10, 10)."""


def settle() -> None:
    """Freeze what start-up built and space collections out; call once, ready to serve."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
