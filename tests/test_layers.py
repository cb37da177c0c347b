"""Imports flow one way (STYLE.md): a test anyone can run, walking ``src/kiroku``'s
imports with ``ast``. It fails on any import circle between modules (imports
under ``TYPE_CHECKING`` and inside functions count: a circle closed that way is
still a circle) and on any import that runs against the layers below."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Lowest first. A module may import its own package and packages of a lower
# rank only; packages of one rank are siblings and do not import each other.
LAYERS: dict[str, int] = {
    "errors": 0,
    "domain": 1,
    "schema": 2,
    "journal": 3,
    "bus": 4,  # the relay follows a journal
    "corrections": 4,
    "catalog": 5,
    "runtime": 5,
    "projections": 5,
    "app": 6,  # kiroku/app.py: the bundle of an application's parts
    "testing": 6,
    "api": 6,
    "web": 6,
    "kiroku": 7,  # the curated public API, kiroku/__init__.py
    "apps": 8,  # built on the public API
    "roles": 9,  # one process's share of the system, composed over an app's node
    "cli": 10,
}


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in (SRC / "kiroku").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The kiroku modules ``name`` imports. ``from pkg import submodule`` imports the
    submodule; the package's ``__init__`` only when a name defined there is taken."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                up = here[: len(here) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            yield from subs
            if len(subs) < len(node.names):
                yield base


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for target in imported(name, path, known):
            if target != "kiroku" and not target.startswith("kiroku."):
                continue
            while target not in known:
                target = target.rsplit(".", 1)[0]
            if target != name:
                edges[name].add(target)
    return edges


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "kiroku"


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_circle_between_modules() -> None:
    assert cycles(graph()) == []


def test_the_checker_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_package_has_a_layer() -> None:
    assert {package(m) for m in modules()} <= set(LAYERS)


def test_imports_flow_down_the_layers() -> None:
    against = sorted(
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        if package(source) != package(target) and LAYERS[package(target)] >= LAYERS[package(source)]
    )
    assert against == []


def test_nothing_below_the_projection_host_imports_it() -> None:
    importers = sorted(
        source
        for source, targets in graph().items()
        if "kiroku.projections.host" in targets and source.startswith("kiroku.projections.")
    )
    assert importers == []
