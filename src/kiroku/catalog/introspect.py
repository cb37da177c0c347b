"""Reading declarations off classes: a decider's event and command types, an
event's field names. Kept apart so the catalog model stays about graphs."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Union, get_args, get_origin

from kiroku.domain.decider import Decider

__all__ = ["command_types", "emitted_types", "field_names", "union_members"]


def union_members(tp: object) -> tuple[type, ...]:
    """The classes in ``A | B | C`` (or ``Union[...]``, or a ``type X = ...`` alias)."""
    value = getattr(tp, "__value__", None)  # PEP 695 alias
    if value is not None:
        return union_members(value)
    if get_origin(tp) in (Union, types.UnionType):
        return tuple(t for arg in get_args(tp) for t in union_members(arg))
    return (tp,) if isinstance(tp, type) else ()


def _decider_args(decider: type) -> tuple[object, ...]:
    for klass in decider.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if get_origin(base) is Decider:
                return get_args(base)
    return ()


def emitted_types(decider: type) -> tuple[type, ...]:
    """Event classes a decider emits: its ``emits`` attribute if declared,
    otherwise the members of its event type argument ``Decider[S, C, E]``."""
    declared = getattr(decider, "emits", None)
    if declared is not None:
        return tuple(declared)
    args = _decider_args(decider)
    return union_members(args[2]) if len(args) == 3 else ()


def command_types(decider: type) -> tuple[type, ...]:
    """Command classes a decider accepts: ``accepts`` if declared, else ``C`` of its base."""
    declared = getattr(decider, "accepts", None)
    if declared is not None:
        return tuple(declared)
    args = _decider_args(decider)
    return union_members(args[1]) if len(args) == 3 else ()


def field_names(cls: type) -> tuple[str, ...]:
    """Field names of a dataclass or msgspec Struct event (empty for anything else)."""
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    struct_fields = getattr(cls, "__struct_fields__", None)
    if struct_fields is not None:
        return tuple(struct_fields)
    hints = typing.get_type_hints(cls) if hasattr(cls, "__annotations__") else {}
    return tuple(hints)
