"""`--changed [REF]` end to end, with the real `dbtest` command in a real git
repository: tests in changed files and tests whose modules import a changed
module, through the static import graph; `--explain`; what selects
everything; outside a repository; the order and `--budget`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import run_dbtest

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

# The fixture: tests/test_mid.py -> pkg.mid -> pkg.core, tests/test_other.py -> pkg.other.
FILES = {
    "pyproject.toml": '[project]\nname = "fixture"\nversion = "0"\n',
    "pkg/__init__.py": "",
    "pkg/core.py": "def value():\n    return 1\n",
    "pkg/mid.py": "from pkg import core\n\n\ndef doubled():\n    return core.value() * 2\n",
    "pkg/other.py": "def name():\n    return 'other'\n",
    "tests/test_mid.py": (
        "from pkg.mid import doubled\n\n\ndef test_doubled():\n    assert doubled() == 2\n\n\n"
        "def test_again():\n    assert doubled() > 0\n"
    ),
    "tests/test_other.py": "from pkg import other\n\n\ndef test_name():\n    assert other.name() == 'other'\n",
}


def git(root: Path, *args: str) -> str:
    env_args = ["-c", "user.name=dbtest", "-c", "user.email=dbtest@example.invalid", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *env_args, *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(project) -> Path:
    root = project(FILES)
    (root / ".gitignore").write_text(".dbtest/\n__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fixture")
    return root


def edit(root: Path, rel: str, text: str = "\n# edited\n") -> None:
    with open(root / rel, "a") as handle:
        handle.write(text)


def test_an_edited_module_runs_only_the_tests_that_import_it(repo):
    assert run_dbtest("--changed", cwd=repo).code == 0  # nothing changed: nothing to run, not a failure
    edit(repo, "pkg/core.py")
    run = run_dbtest("--changed", "-v", cwd=repo)
    assert run.code == 0, run
    assert "tests/test_mid.py::test_doubled" in run.stdout, run
    assert "test_other" not in run.stdout, run
    assert run.last_line.startswith("2 passed"), run


def test_explain_shows_the_chain(repo):
    edit(repo, "pkg/core.py")
    listed = run_dbtest("list", "--changed", "--explain", cwd=repo)
    assert listed.code == 0, listed
    assert listed.stdout.splitlines() == [
        "tests/test_mid.py::test_doubled  (tests/test_mid.py -> pkg.mid -> pkg.core)",
        "tests/test_mid.py::test_again  (tests/test_mid.py -> pkg.mid -> pkg.core)",
    ], listed
    assert "--changed HEAD: 1 changed file, 1 test file affected" in listed.stderr, listed


def test_a_changed_test_file_and_an_untracked_module(repo):
    edit(repo, "tests/test_other.py")
    (repo / "pkg" / "extra.py").write_text("X = 1\n")
    (repo / "tests" / "test_extra.py").write_text("from pkg.extra import X\n\n\ndef test_x():\n    assert X == 1\n")
    listed = run_dbtest("list", "--changed", "--explain", cwd=repo)
    assert listed.stdout.splitlines() == [
        "tests/test_extra.py::test_x  (tests/test_extra.py changed)",
        "tests/test_other.py::test_name  (tests/test_other.py changed)",
    ], listed


def test_changes_that_reach_no_selected_test_are_a_success_and_an_empty_selection_is_not(repo):
    # A module no test imports, and a new test file without tests: nothing
    # to run, exit 0 (a pre-commit hook must let such a commit through).
    (repo / "pkg" / "unused.py").write_text("X = 1\n")
    (repo / "tests" / "test_nothing_yet.py").write_text("import pkg.unused\n")
    for command in ([], ["list"]):
        run = run_dbtest(*command, "--changed", cwd=repo)
        assert run.code == 0, run
    run = run_dbtest("--changed", cwd=repo)
    assert "no tests ran" in run.stdout and "(the changes reach no test)" in run.stdout, run
    # The changes reach tests, but not those -k selects: still nothing to do.
    edit(repo, "pkg/core.py")
    run = run_dbtest("--changed", "-k", "test_name", cwd=repo)
    assert run.code == 0, run
    assert "(the changes reach no test)" in run.stdout, run
    # Options that select no test at all are exit 5, as without --changed.
    for command in ([], ["list"]):
        run = run_dbtest(*command, "--changed", "-k", "no_such_test", cwd=repo)
        assert run.code == 5, run
    assert run_dbtest("-k", "no_such_test", cwd=repo).code == 5


def test_configuration_and_other_files_select_everything(repo):
    edit(repo, "pyproject.toml", "\n[tool.dbtest]\njobs = 1\n")
    run = run_dbtest("--changed", cwd=repo)
    assert run.code == 0, run
    assert run.last_line.startswith("3 passed"), run
    assert "every test selected: pyproject.toml changed (configuration)" in run.stdout, run
    git(repo, "commit", "-q", "-am", "config")
    (repo / "tests" / "conftest.py").write_text("")
    listed = run_dbtest("list", "--changed", "--explain", cwd=repo)
    assert len(listed.stdout.splitlines()) == 3, listed
    assert "(everything: tests/conftest.py changed" in listed.stdout, listed


def test_a_computed_import_selects_everything(repo):
    (repo / "pkg" / "plugins.py").write_text(
        "import importlib\n\n\ndef load(name):\n    return importlib.import_module(name)\n"
    )
    edit(repo, "pkg/mid.py", "\nfrom pkg import plugins\n")
    git(repo, "commit", "-q", "-am", "plugins")
    edit(repo, "pkg/other.py")
    listed = run_dbtest("list", "--changed", "--explain", cwd=repo)
    assert len(listed.stdout.splitlines()) == 3, listed
    assert "pkg/plugins.py:5 imports a module by a computed name" in listed.stdout, listed


def test_against_another_revision(repo):
    edit(repo, "pkg/other.py")
    git(repo, "commit", "-q", "-am", "other")
    assert run_dbtest("list", "--changed", cwd=repo).stdout == ""
    listed = run_dbtest("list", "--changed", "HEAD~1", cwd=repo)
    assert listed.stdout.split() == ["tests/test_other.py::test_name"], listed
    bad = run_dbtest("list", "--changed", "no-such-branch", cwd=repo)
    assert bad.code == 4, bad
    assert bad.stderr.strip() == "dbtest: error: --changed no-such-branch: not a revision of this repository", bad


def test_outside_a_git_repository_is_a_usage_error(project, tmp_path):
    root = project({"test_a.py": "def test_a():\n    pass\n"})
    run = run_dbtest("--changed", cwd=root, env={"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})
    assert run.code == 4, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "--changed needs a git repository" in lines[0], run


def test_last_failures_first_then_shortest(repo):
    (repo / "tests" / "test_mid.py").write_text(
        "import time\nfrom pkg.mid import doubled\n\n\n"
        "def test_slow():\n    time.sleep(0.3)\n\n\n"
        "def test_fast():\n    pass\n\n\n"
        "def test_broken():\n    assert doubled() == 3\n"
    )
    first = run_dbtest("--changed", "-j", "1", "-v", cwd=repo)
    assert first.code == 1, first
    second = run_dbtest("--changed", "-j", "1", "-v", cwd=repo)
    # -v lists each test as it finishes: `PASSED   id (0.001s, w1)`.
    order = [line.split()[1] for line in second.stdout.splitlines() if line.startswith(("PASSED ", "FAILED  "))]
    assert order == [
        "tests/test_mid.py::test_broken",
        "tests/test_mid.py::test_fast",
        "tests/test_mid.py::test_slow",
    ], second


def test_a_budget_stops_dispatching_and_names_what_did_not_run(repo):
    slow = "".join(f"def test_{i}():\n    time.sleep(0.4)\n\n\n" for i in range(6))
    (repo / "tests" / "test_slow.py").write_text("import time\n\n\n" + slow)
    run = run_dbtest("--changed", "-j", "1", "--budget", "0.5", cwd=repo)
    assert run.code == 0, run
    assert "time budget of 0.5s spent" in run.stdout, run
    assert "not run within the time budget:" in run.stdout, run
    assert "tests/test_slow.py::test_5" in run.stdout, run
    assert "not run" in run.last_line, run
    strict = run_dbtest("--changed", "-j", "1", "--budget", "0.5", "--budget-strict", cwd=repo)
    assert strict.code == 1, strict


def test_watch_reruns_the_affected_tests_and_leaves_on_ctrl_c(repo):
    import os
    import queue
    import signal
    import threading
    import time

    from .conftest import dbtest_executable

    proc = subprocess.Popen(
        [dbtest_executable(), "--watch", "-v", "-j", "1"],
        cwd=repo,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen: list[str] = []

    def read_until(text: str, timeout: float = 60) -> list[str]:
        """The lines up to one holding `text`, waiting at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        chunk: list[str] = []
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            chunk.append(line)
            if text in line:
                return chunk
        raise AssertionError(f"no line with {text!r} within {timeout}s:\n{''.join(seen)}")

    try:
        first = "".join(read_until("waiting for changes"))
        assert "run 1: first run" in first
        assert "3 passed" in first
        edit(repo, "pkg/core.py")
        second = "".join(read_until("waiting for changes"))
        assert "run 2: pkg/core.py changed" in second
        assert "tests/test_mid.py::test_doubled" in second and "test_other" not in second, second
        assert "2 passed" in second
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 2, "".join(seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_source_roots_are_found_and_configurable(project):
    root = project(
        {
            "src/app/__init__.py": "",
            "src/app/core.py": "X = 1\n",
            "lib/vendored/__init__.py": "",
            "lib/vendored/tool.py": "Y = 2\n",
            "tests/test_app.py": "from app.core import X\n\n\ndef test_x():\n    assert X == 1\n",
            "tests/test_tool.py": "from vendored.tool import Y\n\n\ndef test_y():\n    assert Y == 2\n",
        }
    )
    (root / ".gitignore").write_text(".dbtest/\n__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "layout")
    edit(root, "src/app/core.py")
    edit(root, "lib/vendored/tool.py")
    # src/ is a source root by itself; lib/ only once configured.
    listed = run_dbtest("list", "--changed", "--explain", cwd=root)
    assert listed.stdout.splitlines() == ["tests/test_app.py::test_x  (tests/test_app.py -> app.core)"], listed
    (root / "pyproject.toml").write_text('[tool.dbtest]\nsource-roots = ["lib"]\n')
    git(root, "add", "pyproject.toml")
    git(root, "commit", "-q", "-m", "config")
    listed = run_dbtest("list", "--changed", "--explain", cwd=root)
    assert listed.stdout.splitlines() == [
        "tests/test_app.py::test_x  (tests/test_app.py -> app.core)",
        "tests/test_tool.py::test_y  (tests/test_tool.py -> vendored.tool)",
    ], listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--explain"], "dbtest: error: --explain says why --changed selected each test: give --changed too"),
        (["--budget-strict"], "dbtest: error: --budget-strict goes with --budget SECONDS"),
        (["list", "--watch"], "dbtest: error: --watch runs tests again and again: dbtest list does not take it"),
    ],
)
def test_options_that_go_together(repo, args, message):
    run = run_dbtest(*args, cwd=repo)
    assert run.code == 4, run
    assert run.stderr.strip() == message, run
