"""Parked events at journal scale: pages with cursors, groups by error, bulk actions.

A poisoned deploy can park tens of thousands of events with the same error.
Listing them all in one answer (megabytes, tracebacks included) helps nobody;
an operator needs to see *which errors* and how many, look at a few, and then
retry or skip a whole group with one reason. So:

- ``GET /api/admin/parked?cursor=&limit=&projection=&error=&all=1`` answers
  one page (no tracebacks) and ``next``, the cursor of the page after it;
- ``GET /api/admin/parked/groups`` counts open parked events per projection
  and error (the error's first line with its numbers blanked: the part that
  names what went wrong, not which event it went wrong on);
- ``POST /api/admin/parked/bulk`` retries or skips a selection of refs
  (``projection:id``) or a whole group, one by one through the host's public
  ``retry``/``skip``, and reports how many succeeded and why others did not.

The queries read each projection's own ``kiroku_parked`` table through the
runner's store connection (read-only, on the loop's thread like the runner).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, cast

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse

from kiroku import JSON, HandlerError, InputError, KirokuError, ProjectionHost
from kiroku.api.body import read_json
from kiroku.apps.chat.http_common import int_param, node_of, require_admin
from kiroku.apps.chat.ops import Operations
from kiroku.domain.numbers import ascii_digits, parse_int

__all__ = ["bulk", "groups", "parked"]

_NUMBER = re.compile(r"\d+")


def error_key(error: str) -> str:
    """An error's group: its first line with numbers as ``N`` (positions, ids and
    counts differ between events that fail for the same reason), at most 200 chars."""
    return _NUMBER.sub("N", error.partition("\n")[0])[:200]


_COLUMNS = (
    "id, position, stream, version, event_id, type, kind, error, attempts,"
    " parked_at, status, reason, resolved_at"
)
_NAMES = _COLUMNS.replace(" ", "").split(",")
BULK_MAX = 50_000


class Group(msgspec.Struct):
    projection: str
    error: str


class BulkBody(msgspec.Struct):
    action: Literal["retry", "skip"]
    refs: Annotated[list[str], msgspec.Meta(max_length=1000)] = []
    group: Group | None = None
    reason: Annotated[str, msgspec.Meta(max_length=1000)] = ""


def _rows(
    host: ProjectionHost, name: str, sql: str, params: Sequence[object] = ()
) -> list[Any]:  # DB-API rows, as the store gives them
    """Parked rows through the serving store, whichever engine holds it."""
    return host.runner(name).store.rows(sql, params)


def _row(name: str, row: tuple[object, ...]) -> dict[str, JSON]:
    found: dict[str, JSON] = {"projection": name, "ref": f"{name}:{row[0]}"}
    found.update(cast(dict[str, JSON], dict(zip(_NAMES, row, strict=True))))
    return found


def _cursor(request: Request, names: list[str]) -> tuple[int, int]:
    """``projection:id`` of the last row shown -> (index of the projection, id)."""
    raw = request.query_params.get("cursor", "")
    if not raw:
        return 0, 0
    name, _, ident = raw.rpartition(":")
    if name not in names or not ascii_digits(ident):
        raise InputError(f"cursor={raw!r} is not a cursor this list gave")
    return names.index(name), parse_int(ident, "cursor")


def _ids(
    host: ProjectionHost, name: str, key: str, *, actionable: bool = False, everything: bool = False
) -> list[int]:
    """Ids of the (open, unless ``everything``) parked events of ``name`` in group ``key``."""
    sql = "SELECT id, error FROM kiroku_parked WHERE " + (
        "TRUE" if everything else "status = 'parked'"
    )
    sql += " AND kind != 'held'" if actionable else ""
    found = _rows(host, name, sql + " ORDER BY id")
    return [ident for ident, error in found if error_key(error) == key]


def _page(
    host: ProjectionHost, name: str, after: int, limit: int, everything: bool, key: str | None
) -> list[dict[str, JSON]]:
    if key is not None:
        ids = [i for i in _ids(host, name, key, everything=everything) if i > after][:limit]
        marks = ",".join("?" * len(ids))
        sql = f"SELECT {_COLUMNS} FROM kiroku_parked WHERE id IN ({marks}) ORDER BY id"
        return [_row(name, r) for r in _rows(host, name, sql, ids)] if ids else []
    sql = f"SELECT {_COLUMNS} FROM kiroku_parked WHERE id > ?"
    sql += "" if everything else " AND status = 'parked'"
    return [_row(name, r) for r in _rows(host, name, sql + " ORDER BY id LIMIT ?", (after, limit))]


async def parked(request: Request) -> JSONResponse:
    require_admin(request)
    host = node_of(request).read.host
    only = request.query_params.get("projection")
    names = [only] if only else host.names
    for name in names:
        host.runner(name)  # ProjectionNotFoundError -> 404
    limit = int_param(request, "limit", 50, low=1, high=500) or 50
    key = request.query_params.get("error") or None
    everything = request.query_params.get("all") in ("1", "true")
    start, after = _cursor(request, names)
    rows: list[dict[str, JSON]] = []
    for i, name in enumerate(names[start:], start):
        wanted = limit - len(rows) + 1
        rows.extend(_page(host, name, after if i == start else 0, wanted, everything, key))
        if len(rows) > limit:
            break
    page = rows[:limit]
    cursor = page[-1]["ref"] if len(rows) > limit else None
    return JSONResponse({"parked": page, "next": cursor})


@dataclasses.dataclass
class _Count:
    projection: str
    error: str
    count: int = 0
    first_position: int = 2**63
    last_position: int = 0
    actionable: int = 0


async def groups(request: Request) -> JSONResponse:
    require_admin(request)
    host = node_of(request).read.host
    found: list[JSON] = []
    for name in host.names:
        sql = "SELECT error, position, kind FROM kiroku_parked WHERE status = 'parked'"
        counted: dict[str, _Count] = {}
        for error, position, kind in _rows(host, name, sql):
            g = counted.setdefault(error_key(error), _Count(name, error_key(error)))
            g.count += 1
            g.first_position = min(g.first_position, position)
            g.last_position = max(g.last_position, position)
            g.actionable += kind != "held"
        ordered = sorted(counted.values(), key=lambda g: -g.count)
        found.extend(cast(JSON, dataclasses.asdict(g)) for g in ordered)
    return JSONResponse({"groups": found})


def _selected(host: ProjectionHost, body: BulkBody) -> list[tuple[str, int]]:
    if body.group is not None:
        name = body.group.projection
        ids = _ids(host, name, body.group.error, actionable=True)
        return [(name, ident) for ident in ids[:BULK_MAX]]
    picked: list[tuple[str, int]] = []
    for ref in body.refs:
        name, sep, ident = ref.rpartition(":")
        if not sep or not ascii_digits(ident):
            raise InputError(f"A parked event is named projection:id, got {ref!r}")
        number = parse_int(ident, "id")
        host.runner(name)
        picked.append((name, number))
    return picked


async def bulk(request: Request) -> JSONResponse:
    """Retry or skip many parked events with one reason; nothing is skipped without one."""
    who = require_admin(request)
    body = await read_json(request, BulkBody)
    if (body.group is None) == (not body.refs):
        raise InputError("Give either refs (projection:id, ...) or a group, not both or neither")
    if body.action == "skip" and not body.reason.strip():
        raise InputError("A skip needs a reason: nothing is skipped without a record")
    host = node_of(request).read.host
    operations: Operations = request.app.state.operations  # where the runners run
    picked = _selected(host, body)
    done, failed = 0, list[JSON]()
    for name, ident in picked:
        try:
            if body.action == "retry":
                await operations.retry(name, ident)
            else:
                await operations.skip(name, ident, body.reason.strip(), who.name)
            done += 1
        except (HandlerError, KirokuError) as e:
            failed.append({"ref": f"{name}:{ident}", "error": str(e)})
    answer: dict[str, JSON] = {
        "action": body.action, "selected": len(picked), "done": done,
        "failed": len(failed), "errors": failed[:20],
    }  # fmt: skip
    return JSONResponse(answer)
