"""``kiroku catalog lint``: advice against near-duplicate and overreaching events.

Pitfall 4: ``FlightBooked``, ``HotelBooked`` and ``PackageTourBooked`` from
different aggregates leave consumers unsure which to handle, in what order, and
how not to count a total twice; an event centred on the aggregate root (one
``ReservationBooked`` with its flights and hotels as children) avoids that.
Two checks, both heuristics and so advice, never errors:

- near duplicates: event types of different aggregates whose names are alike
  and whose fields overlap heavily;
- foreign fields: an event carrying ``<other_category>_<field>`` or fields of
  another aggregate's state, i.e. data it does not own.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from kiroku.catalog.model import Catalog, EventInfo

__all__ = ["Advice", "lint"]

NAME_SIMILARITY = 0.5  # share half their words: "FlightBooked" and "HotelBooked"
FIELD_OVERLAP = 0.5
# Field names too generic to say anything about ownership.
_GENERIC = frozenset({"id", "name", "at", "by", "note", "reason", "amount", "currency", "status"})
_WORD = re.compile(r"[A-Z][a-z0-9]*|[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Advice:
    kind: str  # "near-duplicate" | "foreign-field"
    events: tuple[str, ...]
    message: str


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def _similar(a: str, b: str) -> float:
    wa, wb = _WORD.findall(_short(a)), _WORD.findall(_short(b))
    return difflib.SequenceMatcher(None, wa, wb).ratio()


def _near_duplicates(catalog: Catalog) -> list[Advice]:
    out: list[Advice] = []
    events = [e for e in catalog.events if e.emitted_by]
    for i, a in enumerate(events):
        for b in events[i + 1 :]:
            if set(a.emitted_by) & set(b.emitted_by):
                continue  # one aggregate's events may share shape on purpose
            name, fields = _similar(a.name, b.name), _overlap(a.fields, b.fields)
            if name >= NAME_SIMILARITY and fields >= FIELD_OVERLAP:
                out.append(_duplicate_advice(a, b, name, fields))
    return out


def _duplicate_advice(a: EventInfo, b: EventInfo, name: float, fields: float) -> Advice:
    shared = ", ".join(sorted(set(a.fields) & set(b.fields)))
    return Advice(
        "near-duplicate",
        (a.name, b.name),
        f"{a.name} ({', '.join(a.emitted_by)}) and {b.name} ({', '.join(b.emitted_by)}) look "
        f"alike (name {name:.0%}, fields {fields:.0%}: {shared}); consider one event on the "
        "aggregate root carrying both as children",
    )


def _foreign_fields(catalog: Catalog) -> list[Advice]:
    out: list[Advice] = []
    for event in (e for e in catalog.events if e.emitted_by):
        owners = set(event.emitted_by)
        for agg in catalog.aggregates:
            if agg.category in owners:
                continue
            prefix = f"{agg.category}_"
            hits = sorted(
                f
                for f in event.fields
                if (f.startswith(prefix) and f != f"{prefix}id")
                or (f in agg.state_fields and f not in _GENERIC and not f.endswith("_id"))
            )
            if hits:
                out.append(
                    Advice(
                        "foreign-field",
                        (event.name,),
                        f"{event.name} carries {', '.join(hits)}, which belong to aggregate "
                        f"{agg.category!r}; reference it by id instead of copying its data",
                    )
                )
    return out


def lint(catalog: Catalog) -> list[Advice]:
    return _near_duplicates(catalog) + _foreign_fields(catalog)
