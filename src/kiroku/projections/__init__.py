"""The read side: projections, their runners, the document store, replay and rebuild.

See docs/projections.md for a guided tour.
"""

from kiroku.projections.catalog import StoreCatalog
from kiroku.projections.docstore import Collection, ReadCollection
from kiroku.projections.host import ProjectionHost
from kiroku.projections.model import (
    BatchCommitted,
    FailurePolicy,
    LedgerEntry,
    Outcome,
    ParkedEvent,
    Progress,
    RunnerState,
    RunnerStatus,
)
from kiroku.projections.projection import Projection, Selector, handles
from kiroku.projections.readstore import (
    DocReader,
    Document,
    DocWriter,
    Filter,
    ReadStore,
    ReadView,
    TextReader,
    TextWriter,
    Tx,
)
from kiroku.projections.rebuild import as_of, rebuild, replay, resolve_start
from kiroku.projections.runner import Listener, ProjectionRunner
from kiroku.projections.safety import ReplayRefusedError, check_replayable, replay_plan
from kiroku.projections.source import CatchUpSource, EventSource, JournalSource
from kiroku.projections.store import ProjectionStore

__all__ = [
    "BatchCommitted",
    "CatchUpSource",
    "Collection",
    "DocReader",
    "DocWriter",
    "Document",
    "EventSource",
    "FailurePolicy",
    "Filter",
    "JournalSource",
    "LedgerEntry",
    "Listener",
    "Outcome",
    "ParkedEvent",
    "Progress",
    "Projection",
    "ProjectionHost",
    "ProjectionRunner",
    "ProjectionStore",
    "ReadCollection",
    "ReadStore",
    "ReadView",
    "ReplayRefusedError",
    "RunnerState",
    "RunnerStatus",
    "Selector",
    "StoreCatalog",
    "TextReader",
    "TextWriter",
    "Tx",
    "as_of",
    "check_replayable",
    "handles",
    "rebuild",
    "replay",
    "replay_plan",
    "resolve_start",
]
