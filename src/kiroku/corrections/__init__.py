"""Corrections: voiding an invalid event after the fact, and consumers that wait.

- ``EventRetracted`` / ``RetractionService``: append a retraction to the
  original's stream, with checks, lateness and the blast radius.
- ``CompensationWindow``: the deployment's promise (default 24 h).
- ``HoldBackRunner`` + ``SQLiteHoldStore``: consumers with irreversible effects
  act only after the window passed unretracted; durable, visible, clock-driven.
- ``handles_retraction`` / ``compensation_of``: how acting consumers undo.
- ``exclude_retracted`` / ``retracted_positions`` / ``without_retracted``: the
  journal as if retracted events had never happened (recovery and rebuilds).
"""

from kiroku.corrections.clock import Clock, ManualClock, SystemClock
from kiroku.corrections.compensation import (
    Compensation,
    RetractionPair,
    compensation_of,
    handles_retraction,
    retraction_pair,
)
from kiroku.corrections.events import (
    RETRACTED_TYPE,
    EventRetracted,
    is_system_type,
    parse_retraction,
)
from kiroku.corrections.exclusion import (
    exclude_retracted,
    find_retraction,
    is_retracted,
    retracted_positions,
    without_retracted,
)
from kiroku.corrections.holdback import HoldBackConsumer, HoldBackRunner
from kiroku.corrections.service import (
    BlastRadiusSource,
    Exposure,
    RetractionListener,
    RetractionReport,
    RetractionService,
)
from kiroku.corrections.source import (
    VOIDED_TYPE,
    RecoveryView,
    UnretractedSource,
    mask_retracted,
    recovery_view,
    snapshot_predates_retraction,
)
from kiroku.corrections.store import HoldStatus, SQLiteHoldStore
from kiroku.corrections.window import DEFAULT_WINDOW, CompensationWindow, parse_duration
from kiroku.corrections.witness import LedgerWitness

__all__ = [
    "DEFAULT_WINDOW",
    "RETRACTED_TYPE",
    "VOIDED_TYPE",
    "BlastRadiusSource",
    "Clock",
    "Compensation",
    "CompensationWindow",
    "EventRetracted",
    "Exposure",
    "HoldBackConsumer",
    "HoldBackRunner",
    "HoldStatus",
    "LedgerWitness",
    "ManualClock",
    "RecoveryView",
    "RetractionListener",
    "RetractionPair",
    "RetractionReport",
    "RetractionService",
    "SQLiteHoldStore",
    "SystemClock",
    "UnretractedSource",
    "compensation_of",
    "exclude_retracted",
    "find_retraction",
    "handles_retraction",
    "is_retracted",
    "is_system_type",
    "mask_retracted",
    "parse_duration",
    "parse_retraction",
    "recovery_view",
    "retracted_positions",
    "retraction_pair",
    "snapshot_predates_retraction",
    "without_retracted",
]
