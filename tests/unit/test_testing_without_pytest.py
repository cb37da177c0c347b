"""``kiroku.testing``'s pure helpers import where pytest is not installed; the
contract suites (which need it) load only when asked for."""

from __future__ import annotations

import subprocess
import sys

BLOCK_PYTEST = """
import sys
class NoPytest:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest"):
            raise ImportError("pytest is not installed here")
sys.meta_path.insert(0, NoPytest())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_PYTEST + code], capture_output=True, text=True, timeout=60
    )


def test_given_imports_without_pytest() -> None:
    done = run("from kiroku.testing import given, Given, When\nprint(given.__name__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "given"


def test_the_contracts_say_they_need_pytest() -> None:
    done = run("from kiroku.testing import JournalContract")
    assert done.returncode != 0
    assert "pytest is not installed here" in done.stderr
