"""Helpers for end-to-end tests: run the installed `dbtest` command on fixture projects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"

# The worker runtime starts with Python's collector off; its tests must see it
# as under pytest: on, collecting unasked, nothing frozen. A worker's parent pid
# goes to $DBTEST_PARENT_LOG when that is set.
COLLECTOR_TESTS = """\
import gc
import os
import sys
import weakref


class Node:
    pass


def test_the_collector_is_on():
    assert gc.isenabled()
    path = os.environ.get("DBTEST_PARENT_LOG")
    if path:
        with open(path, "a") as log:
            log.write(f"{os.getppid()}\\n")


def test_nothing_is_hidden_from_it():
    assert gc.get_freeze_count() == 0
    assert any(obj is sys.path for obj in gc.get_objects())


def test_cycles_are_collected_unasked():
    refs = []
    for _ in range(5000):
        node = Node()
        node.self = node
        refs.append(weakref.ref(node))
    del node
    assert any(ref() is None for ref in refs)
"""


def dbtest_executable() -> str:
    beside = Path(sys.executable).parent / "dbtest"
    if beside.exists():
        return str(beside)
    found = shutil.which("dbtest")
    if found is None:
        raise RuntimeError("the dbtest command is not installed; run scripts/test")
    return found


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str], pid: int) -> None:
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.pid = pid

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def __repr__(self) -> str:
        return f"<exit {self.code}>\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


@pytest.fixture(autouse=True, scope="session")
def _user_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The runs under test keep dbtest's user-level cache (rewritten bytecode,
    `$XDG_CACHE_HOME/dbtest`) in a temporary directory, not the user's."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patch.undo()


def run_dbtest(
    *args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> Run:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    proc = subprocess.Popen(
        [dbtest_executable(), *args],
        cwd=cwd or REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise AssertionError(f"dbtest {' '.join(args)} did not finish in {timeout}s:\n{stdout}\n{stderr}") from None
    return Run(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), proc.pid)


@pytest.fixture
def project(tmp_path: Path):
    """Writes a throwaway project: ``project({"test_a.py": "..."})`` returns its path."""

    def make(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return tmp_path

    return make
