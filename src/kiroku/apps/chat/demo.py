"""``kiroku serve --demo``: demo users and rooms, created once and safe to run again.

Demo tokens are kept in plain text in ``demo-tokens.json`` so every start can
print them (real users' tokens are never stored); this is for trying the
system on one's own machine, not for a shared server.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kiroku import DomainError, KirokuError
from kiroku.api.auth import TokenStore
from kiroku.api.user_store import UserStore
from kiroku.apps.chat import commands as c
from kiroku.apps.chat.node import ChatNode
from kiroku.apps.chat.room import Room

__all__ = ["DEMO_FILE", "DEMO_USERS", "demo_tokens", "ensure_demo"]

log = logging.getLogger("kiroku.chat")

DEMO_FILE = "demo-tokens.json"
DEMO_USERS = (("ann", True), ("bob", False), ("cy", False))


def demo_tokens(data_dir: Path, users: UserStore | None = None) -> list[dict[str, object]]:
    """The demo users whose printed token still signs them in: a demo user removed
    (``kiroku users remove bob``) or given a new token is not offered any more."""
    path = data_dir / DEMO_FILE
    if not path.exists():
        return []
    loaded: list[dict[str, object]] = json.loads(path.read_text())
    users = users if users is not None else TokenStore(data_dir)
    users.refresh()  # now, not within the request path's quarter second: a rare request
    return [row for row in loaded if _still_valid(users, row)]


def _still_valid(users: UserStore, row: dict[str, object]) -> bool:
    try:
        return users.authenticate(str(row.get("token", ""))).name == row.get("name")
    except KirokuError:
        return False


def _ensure_users(data_dir: Path, users: UserStore) -> list[dict[str, object]]:
    path = data_dir / DEMO_FILE
    printed: list[dict[str, object]] = json.loads(path.read_text()) if path.exists() else []
    known = {str(u["name"]): u for u in printed}
    for name, admin in DEMO_USERS:
        if name not in known and not users.exists(name):
            known[name] = {"name": name, "admin": admin, "token": users.add(name, admin=admin)}
    rows = [known[n] for n, _ in DEMO_USERS if n in known]
    (data_dir / DEMO_FILE).write_text(json.dumps(rows, indent=2))
    return rows


async def ensure_demo(node: ChatNode) -> list[dict[str, object]]:
    """Users ann (admin), bob and cy; rooms ``general`` (all three) and ``random`` (ann, bob)."""
    rows = _ensure_users(node.data_dir, node.users)
    seed: list[c.RoomCommand] = [
        c.CreateRoom("general", "General", "ann", ("bob", "cy")),
        c.CreateRoom("random", "Random", "ann", ("bob",)),
        c.PostMessage("general", "welcome", "Welcome to kiroku!", "ann"),
        c.PostMessage("general", "hello-bob", "Hi everyone", "bob"),
    ]
    for command in seed:
        try:
            await node.write.runtime.execute(Room, command.room_id, command)
        except DomainError as e:  # renamed, archived or left since: the demo adapts, not fails
            log.info("demo data left as it is: %s", e)
    return rows
