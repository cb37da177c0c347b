"""Cycle search over a small directed graph (aggregates are nodes).

The catalog is small (tens of aggregates), so clarity beats asymptotics: a
depth-first search that, on meeting a node already on the current path, returns
that stretch of the path as the cycle. Nodes and their successors are visited in
sorted order so the cycle reported for a given graph is always the same one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["find_cycle"]


def find_cycle(successors: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """One cycle as ``(a, b, ..., a)``, or None when the graph is acyclic."""
    done: set[str] = set()
    for start in sorted(successors):
        if start in done:
            continue
        found = _search(start, successors, done)
        if found is not None:
            return found
    return None


def _search(
    start: str, successors: Mapping[str, Sequence[str]], done: set[str]
) -> tuple[str, ...] | None:
    path: list[str] = [start]
    on_path = {start}
    stack = [iter(sorted(successors.get(start, ())))]
    while stack:
        nxt = next(stack[-1], None)
        if nxt is None:
            stack.pop()
            finished = path.pop()
            on_path.discard(finished)
            done.add(finished)
            continue
        if nxt in on_path:
            return (*path[path.index(nxt) :], nxt)
        if nxt in done:
            continue
        path.append(nxt)
        on_path.add(nxt)
        stack.append(iter(sorted(successors.get(nxt, ()))))
    return None
