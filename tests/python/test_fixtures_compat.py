"""pytest fixtures side by side with pytest itself, on `tests/fixtures/fixtures_compat`:
every scope, yield teardowns (their order, from a log the fixtures write),
conftest fixtures and overriding, autouse (in a TestCase too), params and
indirect parametrization, usefixtures, the request object, conftest hooks
(pytest_addoption with options after `--`, pytest_collection_modifyitems),
and the errors (not found, raising, teardown, ScopeMismatch)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES, run_dbtest

OUTCOME = re.compile(r"^(?P<id>\S.*?) (?P<outcome>PASSED|FAILED|SKIPPED|XFAIL|XPASS|ERROR)(?: |$)")
LABEL = re.compile(r"^(?P<outcome>PASSED|FAILED|SKIPPED|XFAILED|XPASSED|ERROR) +(?P<id>\S.*?) \(\d+\.\d+s")
WORDS = {"XFAILED": "XFAIL", "XPASSED": "XPASS"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fixtures") / "fixtures_compat"
    shutil.copytree(FIXTURES / "fixtures_compat", root)
    return root


def _pytest(root: Path, log: Path, *args: str) -> dict[str, str]:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "FIXTURE_LOG": str(log)},
    )
    outcomes: dict[str, str] = {}
    for line in run.stdout.splitlines():
        match = OUTCOME.match(line)
        if match and "::" in match["id"]:
            # A test whose teardown failed is reported twice: PASSED, then ERROR.
            outcomes[match["id"]] = match["outcome"]
    return outcomes


def _dbtest(root: Path, log: Path, *args: str) -> dict[str, str]:
    run = run_dbtest("-v", "--no-cache", *args, cwd=root, env={"FIXTURE_LOG": str(log)})
    outcomes = {}
    for line in run.stdout.splitlines():
        match = LABEL.match(line)
        if match:
            outcomes[match["id"]] = WORDS.get(match["outcome"], match["outcome"])
    assert outcomes, run
    return outcomes


@pytest.mark.parametrize("extra", [(), ("--", "--runslow")], ids=["defaults", "runslow"])
def test_outcomes_and_set_up_order_are_pytests(project, tmp_path, extra):
    pytest_args = extra[1:]
    theirs = _pytest(project, tmp_path / "pytest.log", *pytest_args)
    # No failure rerun alone: the log must hold one run of each test, as pytest's.
    ours = _dbtest(project, tmp_path / "dbtest.log", "-j", "1", "--rerun-alone", "0", *extra)
    assert ours == theirs
    # One worker runs the tests in pytest's order: set-ups and teardowns happen
    # in the same order, scope by scope.
    assert (tmp_path / "dbtest.log").read_text() == (tmp_path / "pytest.log").read_text()


def test_two_workers_give_the_same_outcomes(project, tmp_path):
    theirs = _pytest(project, tmp_path / "pytest.log")
    assert _dbtest(project, tmp_path / "dbtest.log", "-j", "2") == theirs


def test_errors_are_worded_as_pytest_words_them(project, tmp_path):
    run = run_dbtest("--no-cache", "-j", "1", cwd=project, env={"FIXTURE_LOG": str(tmp_path / "log")})
    assert "fixture 'nonexistent_fixture' not found" in run.stdout, run
    assert "available fixtures: " in run.stdout and "module_res" in run.stdout, run
    assert "ScopeMismatch: You tried to access the function scoped fixture func_res with a module scoped" in run.stdout
    assert "RuntimeError: fixture broke" in run.stdout
    assert "[teardown]" in run.stdout and "ValueError: teardown broke" in run.stdout
