"""Roles: one codebase run as write, relay, projector and read processes (or all in one).

``RoleSpec`` says which roles and where the journal, bus and read stores are;
``open_roles`` composes a ``RoleNode`` for them (see ``docs/operating.md``).
"""

from kiroku.roles.node import RoleNode, open_roles
from kiroku.roles.spec import (
    ROLES,
    RoleSpec,
    StartupError,
    bus_from_url,
    journal_from_url,
    parse_roles,
)

__all__ = [
    "ROLES",
    "RoleNode",
    "RoleSpec",
    "StartupError",
    "bus_from_url",
    "journal_from_url",
    "open_roles",
    "parse_roles",
]
