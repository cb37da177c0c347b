"""The catalog drawn for people (table, Mermaid, Graphviz dot) and for tools (JSON)."""

from __future__ import annotations

import json
import re

from kiroku.catalog.model import Catalog

__all__ = ["FORMATS", "render"]

FORMATS = ("table", "mermaid", "dot", "json")


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def to_table(catalog: Catalog) -> str:
    rows = [("event", "emitted by", "handled by")]
    rows += [
        (e.name, ", ".join(e.emitted_by) or "-", ", ".join(e.handled_by) or "-")
        for e in catalog.events
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for c in (c for c in catalog.consumers if c.sends):
        for command, targets in c.sends:
            lines.append(f"{c.name} sends {command} -> {', '.join(targets) or '?'}")
    lines += [f"warning: {w}" for w in catalog.warnings]
    return "\n".join(lines)


def to_mermaid(catalog: Catalog) -> str:
    lines = ["flowchart LR"]
    for a in catalog.aggregates:
        lines.append(f"  agg_{_id(a.category)}[[{a.category}]]")
    for c in catalog.consumers:
        lines.append(f"  con_{_id(c.name)}([{c.name}])")
    for e in catalog.events:
        for src in e.emitted_by:
            for dst in e.handled_by:
                lines.append(f"  agg_{_id(src)} -->|{e.name}| con_{_id(dst)}")
    for c in catalog.consumers:
        for command, targets in c.sends:
            for t in targets:
                lines.append(f"  con_{_id(c.name)} -.->|{command}| agg_{_id(t)}")
    return "\n".join(lines)


def to_dot(catalog: Catalog) -> str:
    lines = ["digraph catalog {", "  rankdir=LR;"]
    for a in catalog.aggregates:
        lines.append(f'  "agg:{a.category}" [label="{a.category}", shape=box];')
    for c in catalog.consumers:
        lines.append(f'  "con:{c.name}" [label="{c.name}", shape=ellipse];')
    for e in catalog.events:
        for src in e.emitted_by:
            for dst in e.handled_by:
                lines.append(f'  "agg:{src}" -> "con:{dst}" [label="{e.name}"];')
    for c in catalog.consumers:
        for command, targets in c.sends:
            for t in targets:
                lines.append(f'  "con:{c.name}" -> "agg:{t}" [label="{command}", style=dashed];')
    lines.append("}")
    return "\n".join(lines)


def to_json(catalog: Catalog) -> str:
    doc = {
        "aggregates": [
            {
                "category": a.category,
                "decider": a.decider,
                "emits": list(a.emits),
                "accepts": list(a.accepts),
                "depends_on": list(a.depends_on),
            }
            for a in catalog.aggregates
        ],
        "consumers": [
            {
                "name": c.name,
                "kind": c.kind,
                "handles": list(c.handles),
                "sends": [{"command": cmd, "to": list(t)} for cmd, t in c.sends],
                "allow_cycle": c.allow_cycle,
            }
            for c in catalog.consumers
        ],
        "events": [
            {
                "name": e.name,
                "fields": list(e.fields),
                "emitted_by": list(e.emitted_by),
                "handled_by": list(e.handled_by),
            }
            for e in catalog.events
        ],
        "warnings": list(catalog.warnings),
    }
    return json.dumps(doc, indent=2)


def render(catalog: Catalog, fmt: str = "table") -> str:
    renderers = {"table": to_table, "mermaid": to_mermaid, "dot": to_dot, "json": to_json}
    if fmt not in renderers:
        raise ValueError(f"Unknown catalog format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return renderers[fmt](catalog)
