"""Only the process running the projector keeps the operations tasks' record and
takes up what it says was running; an HTTP process beside it (which forwards the
operations page's actions to the projector) neither runs nor writes it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kiroku.apps.chat import app as chat
from kiroku.apps.chat.node import RuntimeOptions
from kiroku.apps.chat.ops_record import RECORD_FILE, TaskRecord, TaskRecordFile
from kiroku.apps.chat.server import build_app
from kiroku.roles import RoleSpec, open_roles


def spec(data: Path, roles: set[str]) -> RoleSpec:
    return RoleSpec(frozenset(roles), f"sqlite:///{data / 'journal.db'}", None, f"sqlite:///{data}")


async def test_the_projector_takes_up_the_record_and_the_http_process_leaves_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    running = TaskRecord(name="chat.rooms", kind="rebuild", started=datetime.now(UTC))
    TaskRecordFile(data).save([running])
    recorded = (data / RECORD_FILE).read_bytes()

    web = await open_roles(spec(data, {"write", "read"}), chat, RuntimeOptions())
    try:
        app = build_app(web.node, start_node=False)
        web.reader_only()
        await web.start()
        await web.take_operations(app.state.operations)
        assert app.state.ops.info == {}  # nothing taken up, nothing launched
    finally:
        await web.close()
    assert (data / RECORD_FILE).read_bytes() == recorded

    projector = await open_roles(spec(data, {"projector"}), chat, RuntimeOptions())
    try:
        app = build_app(projector.node, start_node=False)
        await projector.start()
        await projector.take_operations(app.state.operations)
        assert app.state.ops.info_of("chat.rooms")["resumed"] == 1
        await app.state.ops.tasks["chat.rooms"]
    finally:
        await projector.close()
    taken_up = TaskRecordFile(data).load()["chat.rooms"]
    assert (taken_up.state, taken_up.resumed) == ("done", 1)
