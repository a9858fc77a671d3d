"""The workers' fork server (`dbtest/launch.py`, `dbtest/worker/forkserver.py`):
started by the command before the command line is parsed, and gone when the
command is, whatever it did."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import COLLECTOR_TESTS, FIXTURES, run_dbtest


def _fork_servers_of(pid: int) -> list[int]:
    """Processes started as `-m dbtest.worker --fork-server <pid>`, live or not yet reaped."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--fork-server" in argv and str(pid).encode() in argv:
            found.append(int(entry.name))
    return found


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")


@pytest.mark.parametrize(
    "args",
    [
        ("--no-such-option",),
        ("-j", "0", "."),
        ("--help",),
        ("list", str(FIXTURES / "skeleton")),
        ("-k", "no_test_has_this_name", str(FIXTURES / "skeleton")),
        ("-j", "2", str(FIXTURES / "skeleton")),
    ],
)
def test_no_fork_server_outlives_the_command(args):
    run = run_dbtest(*args)
    assert run.code in (0, 1, 4, 5), run
    assert _fork_servers_of(run.pid) == []


def test_a_single_worker_is_forked_too(tmp_path):
    log = tmp_path / "pids.log"
    # No rerun of the failure alone: it would take a second worker.
    run = run_dbtest("-j", "1", "--rerun-alone", "0", str(FIXTURES / "skeleton"), env={"DBTEST_PID_LOG": str(log)})
    assert run.last_line.startswith("4 passed, 1 failed in "), run
    records = {tuple(line.split()) for line in log.read_text().splitlines()}
    assert len(records) == 1, records
    ((worker, parent, grandparent),) = records
    assert grandparent == str(run.pid) and parent != str(run.pid), "forked by the fork server"


def test_forked_workers_run_tests_with_the_collector_on(project: Callable[[dict[str, str]], Path]) -> None:
    root = project({"test_gc.py": COLLECTOR_TESTS})
    log = root / "parents.log"
    run = run_dbtest("-j", "2", str(root), cwd=root, env={"DBTEST_PARENT_LOG": str(log)})
    assert run.last_line.startswith("3 passed, 0 failed in "), run
    assert str(run.pid) not in log.read_text().split(), "the workers were not forked by the fork server"


PRELOAD_CHECK = """\
import sys

# Before this module imports anything: did the worker start with pytest?
STARTED_WITH_PYTEST = "pytest" in sys.modules
{imports}

def test_{name}_a():
    assert STARTED_WITH_PYTEST is {expected}


def test_{name}_b():
    assert STARTED_WITH_PYTEST is {expected}
"""


@pytest.mark.parametrize(("uses_pytest", "name"), [(True, "pytest_style"), (False, "plain")])
def test_workers_start_with_pytest_only_when_the_suite_imports_it(project, uses_pytest, name):
    imports = "import pytest\n" if uses_pytest else ""
    files = {
        f"test_{name}_{k}.py": PRELOAD_CHECK.format(imports=imports, name=f"{name}{k}", expected=uses_pytest)
        for k in range(2)
    }
    root = project(files)
    run = run_dbtest("-j", "2", "--no-cache", cwd=root)
    assert run.last_line.startswith("4 passed, 0 failed"), run
