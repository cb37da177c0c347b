"""``GET /api/admin/projections`` says per projection whether Replay is allowed
(``replay_safe``) before anything runs, and a replay of one that is not is
refused with advice and starts nothing: the chat's own projections and an app's
projection that does not declare itself replay-safe (``safety_app``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_server import ChatServer, bearer
from safety_app import append_notes

HERE = Path(__file__).resolve().parent
NOTES = ["one", "two", "three"]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(
        tmp_path_factory.mktemp("safety") / "data", extra=("--app", "safety_app:app"), cwd=HERE
    )
    yield running
    assert running.stop() == 0, running.log()


def _caught_up(http: httpx.Client) -> dict[str, dict[str, object]]:
    for _ in range(200):
        rows = {p["name"]: p for p in http.get("/api/admin/projections").json()["projections"]}
        if all(p["position"] == len(NOTES) for p in rows.values()):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"projections did not catch up: {rows}")


def test_the_chats_projections_are_listed_as_replay_safe(server: ChatServer) -> None:
    ann = server.add_user("ann", admin=True)
    with httpx.Client(base_url=server.base_url, headers=bearer(ann)) as http:
        listed = http.get("/api/admin/projections").json()["projections"]
    assert {p["name"]: p["replay_safe"] for p in listed} == {
        "chat.history": True,
        "chat.rooms": True,
        "chat.search": True,
        "chat.timeline": True,
    }


def test_an_undeclared_projection_is_listed_unsafe_and_its_replay_refused(
    app_server: ChatServer,
) -> None:
    ann = app_server.add_user("ann", admin=True)
    append_notes(app_server.data_dir, NOTES)
    with httpx.Client(base_url=app_server.base_url, headers=bearer(ann), timeout=30) as http:
        rows = _caught_up(http)
        assert rows["ops.tally"]["replay_safe"] is False
        assert rows["ops.notes"]["replay_safe"] is True

        refused = http.post("/api/admin/projections/ops.tally/replay", json={"from_position": 1})
        assert refused.status_code == 400, refused.text
        assert "not declared replay-safe" in refused.json()["detail"]
        assert "Rebuild it instead" in refused.json()["detail"]

        after = _caught_up(http)
        assert after["ops.tally"]["task"] is None  # nothing ran
        total = http.get("/api/read/ops.tally/totals/all").json()
        assert total["doc"] == {"count": len(NOTES)}  # nothing counted twice
