"""``--journal`` and ``--read-store`` on the read-side commands, with SQLite: the
stores may live outside the data directory, and a moving command then owns the
read-store directory they name (the one ``kiroku serve`` owns)."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_projections_cli import fill, kiroku


def test_stores_named_by_url_are_used_and_their_directory_is_owned(tmp_path: Path) -> None:
    (tmp_path / "stores").mkdir()
    stores = fill(tmp_path / "stores")
    elsewhere = tmp_path / "elsewhere"  # the data directory: nothing in it
    urls = (
        "--journal",
        f"sqlite:///{stores / 'journal.db'}",
        "--read-store",
        f"sqlite:///{stores}",
    )
    out = kiroku(elsewhere, "rebuild", "cli.boards", *urls).stdout
    assert "cli.boards: rebuilt to position 6 and swapped" in out
    rows = kiroku(elsewhere, "projections", *urls).stdout
    assert "caught up" in next(x for x in rows.splitlines() if "cli.boards" in x)
    assert not elsewhere.exists()
    fd = os.open(stores, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a server owning it would
        refused = kiroku(elsewhere, "rebuild", "cli.boards", *urls, ok=False)
        assert f"{stores} is in use by" in refused.stderr
        assert "caught up" in kiroku(elsewhere, "projections", *urls).stdout  # reads go on
    finally:
        os.close(fd)


def test_a_journal_that_is_not_there_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "journal.db"
    failed = kiroku(tmp_path, "projections", "--journal", f"sqlite:///{missing}", ok=False)
    assert f"No journal at {missing}" in failed.stderr
    assert "Traceback" not in failed.stderr
    bad = kiroku(tmp_path, "ledger", "1", "--read-store", "mysql://x", ok=False)
    assert "mysql://x" in bad.stderr
