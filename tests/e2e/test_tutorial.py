"""docs/tutorial.md, run as written: its code blocks become ``bank.py`` and
``seed.py`` in an empty directory, the seed script runs, and ``kiroku`` serves
the app from that directory (no PYTHONPATH) with its own catalog, the generic
read API and no chat routes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from chat_server import ChatServer

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
BLOCK = re.compile(r"```python\n# file: (\S+)\n(.*?)```", re.DOTALL)
KIROKU = [sys.executable, "-c", "from kiroku.cli import main; main()"]


def _write_files(where: Path) -> list[str]:
    files: dict[str, str] = {}
    for name, code in BLOCK.findall(TUTORIAL.read_text()):
        files[name] = files.get(name, "") + code + "\n"
    for name, code in files.items():
        (where / name).write_text(code)
    return sorted(files)


def _run(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KIROKU_DATA")}
    return subprocess.run(args, cwd=where, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("tutorial")
    assert _write_files(where) == ["bank.py", "seed.py"]
    seeded = _run(where, sys.executable, "seed.py")
    assert seeded.returncode == 0, seeded.stderr
    assert "refused: account acc-1 holds 70, cannot pay 500" in seeded.stdout
    assert "balance: 70" in seeded.stdout
    return where


def test_the_schema_lists_only_the_apps_event_types(bank: Path) -> None:
    listed = _run(bank, *KIROKU, "--data", "bank-data", "schema", "--app", "bank:app", "--json")
    assert listed.returncode == 0, listed.stderr
    names = set(re.findall(r'"(\w+\.\w+)"', listed.stdout))
    assert {"bank.AccountOpened", "bank.MoneyDeposited", "bank.MoneyWithdrawn"} <= names
    assert not [n for n in names if n.startswith("chat.")]
    drawn = _run(bank, *KIROKU, "catalog", "--app", "bank:app", "--format", "json")
    assert drawn.returncode == 0, drawn.stderr
    assert "bank.MoneyDeposited" in drawn.stdout
    assert "chat." not in drawn.stdout


def test_serve_runs_the_app_with_the_read_api_and_no_chat_routes(bank: Path) -> None:
    added = _run(bank, *KIROKU, "--data", "bank-data", "users", "add", "ann", "--admin", "--json")
    token = re.search(r'"token": "([^"]+)"', added.stdout)
    assert token is not None, added.stderr
    server = ChatServer.start(bank / "bank-data", extra=("--app", "bank:app"), cwd=bank)
    try:
        auth = {"Authorization": f"Bearer {token.group(1)}"}
        with httpx.Client(base_url=server.base_url, headers=auth, timeout=30) as http:
            assert http.get("/api/app").json()["chat"] is False
            assert http.get("/api/read/bank.balances").json()["collections"] == ["accounts"]
            for _ in range(100):
                one = http.get("/api/read/bank.balances/accounts/acc-1")
                if one.status_code == 200:
                    break
                time.sleep(0.05)  # the projection catches up after the start
            assert one.json() == {
                "id": "acc-1",
                "doc": {"owner": "ann", "balance": 70, "version": 3},
            }
            page = http.get("/api/read/bank.balances/accounts", params={"limit": 1}).json()
            assert [d["id"] for d in page["documents"]] == ["acc-1"]
            assert http.get("/api/rooms").status_code in (404, 405)
            assert http.get("/api/me").json() == {"name": "ann", "admin": True}
            events = http.get("/api/admin/events").json()["events"]
            assert [e["type"] for e in events][-1] == "bank.AccountOpened"
            assert http.get("/api/admin/projections").status_code == 200
            assert http.get("/").status_code == 200
    finally:
        assert server.stop() == 0, server.log()
