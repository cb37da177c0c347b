"""One log line per request, and request metrics in the Prometheus text format.

Both are kept by :class:`kiroku.api.gate.Gate`, a pure-ASGI middleware, so
streaming responses (server-sent events) pass through untouched and are logged
when they end. The route's path
template (``/api/rooms/{room_id}``), not the raw path, labels the metrics, so
their cardinality stays bounded however many rooms exist.

The template is found without matching the route a second time: the router
leaves the endpoint it chose in the scope, and an endpoint maps to one route.
Only a request that never reached an endpoint (an unknown path, a refused
stream) is matched here, against the route table.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from kiroku.api.logs import FIELDS, enqueue, masked_query

__all__ = ["Gauge", "Metrics", "Templates", "access"]

log = logging.getLogger("kiroku.access")
_ACCESS = '%s - "%s %s HTTP/%s" %d %.1fms'

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Gauge:
    """A value read when /metrics is scraped: ``read()`` returns (labels, value) pairs."""

    name: str
    help: str
    read: Callable[[], Iterable[tuple[dict[str, str], float]]]


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    """Per bucket, not cumulative (one increment per request); summed when rendered."""
    total: int = 0
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        self.total += 1
        self.sum += seconds
        self.counts[bisect.bisect_left(_BUCKETS, seconds)] += 1

    def cumulative(self) -> list[int]:
        out, running = [], 0
        for n in self.counts[: len(_BUCKETS)]:
            running += n
            out.append(running)
        return out


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[tuple[str, str], _Histogram] = {}
        self.gauges: list[Gauge] = []

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        self.latency.setdefault((method, route), _Histogram()).observe(seconds)

    def render(self) -> str:
        out = [
            "# HELP kiroku_http_requests_total HTTP requests answered.",
            "# TYPE kiroku_http_requests_total counter",
        ]
        for (method, route, status), n in sorted(self.requests.items()):
            labels = {"method": method, "route": route, "status": str(status)}
            out.append(f"kiroku_http_requests_total{_labels(labels)} {n}")
        out += [
            "# HELP kiroku_http_request_seconds Time to the end of the response.",
            "# TYPE kiroku_http_request_seconds histogram",
        ]
        for (method, route), h in sorted(self.latency.items()):
            out += self._histogram({"method": method, "route": route}, h)
        for gauge in self.gauges:
            out += [f"# HELP {gauge.name} {gauge.help}", f"# TYPE {gauge.name} gauge"]
            out += [f"{gauge.name}{_labels(lb)} {value}" for lb, value in gauge.read()]
        return "\n".join(out) + "\n"

    @staticmethod
    def _histogram(labels: dict[str, str], h: _Histogram) -> list[str]:
        name = "kiroku_http_request_seconds"
        lines = [
            f"{name}_bucket{_labels({**labels, 'le': str(b)})} {n}"
            for b, n in zip(_BUCKETS, h.cumulative(), strict=True)
        ]
        lines.append(f"{name}_bucket{_labels({**labels, 'le': '+Inf'})} {h.total}")
        lines.append(f"{name}_sum{_labels(labels)} {h.sum}")
        lines.append(f"{name}_count{_labels(labels)} {h.total}")
        return lines


class Templates:
    """The path template of the route that served a request."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.routes = [r for r in routes if isinstance(r, Route)]
        by_endpoint: dict[object, Route | None] = {}
        for route in self.routes:  # an endpoint serving two routes cannot tell which: None
            by_endpoint[route.endpoint] = None if route.endpoint in by_endpoint else route
        self.by_endpoint = by_endpoint

    def of(self, scope: Scope) -> str:
        route = self.by_endpoint.get(scope.get("endpoint"))
        if route is None:
            return self._matched(scope)
        if route.methods is not None and scope["method"] not in route.methods:
            return "other"  # the path's route, the wrong method: answered 405
        return route.path

    def _matched(self, scope: Scope) -> str:
        for route in self.routes:
            if route.matches(scope)[0] is Match.FULL:
                return route.path
        return "other"


def access(scope: Scope, status: int, elapsed: float) -> None:
    """One access record: a short message for text logs, every part as a field for JSON.
    Escaping happens in the formatter (``kiroku.api.logs``), masking here."""
    if not log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client") or ("-", 0)
    query = masked_query(scope.get("query_string", b"").decode("latin-1"))
    path = scope["path"] + (f"?{query}" if query else "")
    version = scope.get("http_version", "1.1")
    method = scope["method"]
    fields: dict[str, object] = {
        "client": client[0], "method": method, "path": scope["path"], "query": query,
        "status": status, "duration_ms": round(elapsed * 1000, 2), "http_version": version,
    }  # fmt: skip
    args = (client[0], method, path, version, status, elapsed * 1000)
    if not enqueue(log, _ACCESS, args, fields):  # built on the log writer's thread, or here
        log.info(_ACCESS, *args, extra={FIELDS: fields})
