"""pytest-style suites side by side with pytest itself: the fixture project
`tests/fixtures/pytest_compat` (parametrize in every form, marks, pytest's ini
settings, what pytest does not collect) gives pytest's ids, outcomes and
selections under dbtest."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES, run_dbtest

OUTCOME = re.compile(r"^(?P<id>\S.*?) (?P<outcome>PASSED|FAILED|SKIPPED|XFAIL|XPASS|ERROR)(?: |$)")
# pytest's -v words for dbtest's outcomes.
PYTEST_WORD = {
    "passed": "PASSED",
    "failed": "FAILED",
    "skipped": "SKIPPED",
    "xfailed": "XFAIL",
    "xpassed": "XPASS",
    "error": "ERROR",
}
# Their parameters are not literals: only an import shows their cases.
EXPANDED_AT_IMPORT = ("test_from_a_variable[", "test_objects[", "test_ids_callable[")
# Deleted at import: the static list shows it; a run finds it is no test.
DELETED_AT_IMPORT = "test_classes.py::TestGone::"


def _static(ids: list[str]) -> list[str]:
    """What a list made without importing anything can show of pytest's ids."""
    return [i for i in ids if not any(f"::{name}" in i for name in EXPANDED_AT_IMPORT)]


@pytest.fixture(scope="module")
def compat(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("compat") / "pytest_compat"
    shutil.copytree(FIXTURES / "pytest_compat", root)
    return root


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=root,
        capture_output=True,
        text=True,
    )


def _pytest_ids(root: Path, *args: str, ordered: bool = False) -> list[str]:
    run = _pytest(root, "--collect-only", "-q", *args)
    ids = [line for line in run.stdout.splitlines() if "::" in line]
    return ids if ordered else sorted(ids)


def _dbtest_list(root: Path, *args: str, ordered: bool = False) -> list[str]:
    run = run_dbtest("list", *args, cwd=root)
    assert run.code in (0, 5), run
    ids = run.stdout.splitlines()
    return ids if ordered else sorted(ids)


@pytest.fixture(scope="module")
def pytest_outcomes(compat) -> dict[str, str]:
    run = _pytest(compat, "-v")
    outcomes = {}
    for line in run.stdout.splitlines():
        match = OUTCOME.match(line)
        if match and "::" in match["id"]:
            outcomes[match["id"]] = match["outcome"]
    assert len(outcomes) == 68, run.stdout
    return outcomes


@pytest.fixture(scope="module")
def dbtest_run(compat, tmp_path_factory) -> tuple[dict[str, str], str]:
    report = tmp_path_factory.mktemp("report") / "run.json"
    run = run_dbtest("-j", "2", "--no-cache", "--json", str(report), cwd=compat)
    assert run.code == 1, run
    tests = json.loads(report.read_text())["tests"]
    return {t["id"]: PYTEST_WORD[t["outcome"]] for t in tests}, run.last_line


def test_every_test_runs_under_pytests_id_with_pytests_outcome(pytest_outcomes, dbtest_run):
    ours, _ = dbtest_run
    assert sorted(ours) == sorted(pytest_outcomes)
    differing = {i: (ours[i], pytest_outcomes[i]) for i in ours if ours[i] != pytest_outcomes[i]}
    assert not differing


def test_the_summary_counts_are_pytests(compat, dbtest_run):
    _, last_line = dbtest_run
    theirs = _pytest(compat, "-q").stdout.strip().splitlines()[-1]
    assert theirs.startswith("3 failed, 61 passed, 2 skipped, 1 xfailed, 1 xpassed"), theirs
    assert last_line.startswith("61 passed, 3 failed, 2 skipped, 1 xfailed, 1 xpassed"), last_line


def test_literal_parameters_are_listed_without_importing_anything(compat):
    listed = [i for i in _dbtest_list(compat, "--static") if not i.startswith(DELETED_AT_IMPORT)]
    assert listed == _static(_pytest_ids(compat))


def test_the_list_is_pytests_collection_in_its_order(compat):
    # The files whose cases only an import shows are imported (nothing runs);
    # a class a module deletes without any sign the static pass reads stays
    # listed (a run finds it is no test).
    listed = [i for i in _dbtest_list(compat, ordered=True) if not i.startswith(DELETED_AT_IMPORT)]
    assert listed == _pytest_ids(compat, ordered=True)


@pytest.mark.parametrize(
    "selection",
    [
        ("-k", "test_literals and 16"),
        ("-k", "stacked and p"),
        ("-k", "test_param_sets"),
        ("-m", "slow and not net"),
        ("-m", "net"),
        ("-m", "slow or net"),
    ],
    ids=" ".join,
)
def test_selections_are_pytests(compat, selection):
    listed = [i for i in _dbtest_list(compat, *selection, ordered=True) if not i.startswith(DELETED_AT_IMPORT)]
    assert listed == _pytest_ids(compat, *selection, ordered=True)
    listed = [i for i in _dbtest_list(compat, "--static", *selection) if not i.startswith(DELETED_AT_IMPORT)]
    assert listed == _static(_pytest_ids(compat, *selection))


def test_one_case_runs_alone_by_its_node_id(compat):
    run = run_dbtest("-v", "--no-cache", "test_params.py::test_literals[x::y/z.w [1]]", cwd=compat)
    assert run.last_line.startswith("1 passed, 0 failed"), run
    assert "test_params.py::test_literals[x::y/z.w [1]]" in run.stdout, run


ADDOPTS_PROJECT = {
    "pytest.ini": (
        "[pytest]\n"
        "addopts = -p no:cacheprovider --strict-markers --deselect test_a.py::test_deselected\n"
        "    -k 'not excluded' --tb=short\n"
        "markers =\n    registered: a known mark\n"
    ),
    "test_a.py": (
        "import pytest\n\n"
        "def test_kept():\n    pass\n\n"
        "def test_deselected():\n    pass\n\n"
        "def test_excluded():\n    pass\n\n"
        "@pytest.mark.registered\ndef test_registered_mark():\n    pass\n\n"
        "@pytest.mark.unheard_of\ndef test_unregistered_mark():\n    pass\n"
    ),
}


def test_addopts_and_strict_markers_are_pytests(project):
    root = project(ADDOPTS_PROJECT)
    ours = run_dbtest("-v", "--no-cache", cwd=root)
    assert "test_a.py::test_kept" in ours.stdout and "test_a.py::test_registered_mark" in ours.stdout, ours
    assert "test_deselected" not in ours.stdout and "test_excluded" not in ours.stdout, ours
    assert "'unheard_of' not found in `markers` configuration option" in ours.stdout, ours
    theirs = _pytest(root, "-q").stdout
    # pytest refuses the whole module for the unregistered mark.
    assert "'unheard_of' not found in `markers` configuration option" in theirs, theirs


def test_a_class_scoped_fixtures_node_is_its_class_whatever_the_parameters_hold(project):
    root = project(
        {
            "test_node.py": (
                "import pytest\n\n"
                "@pytest.fixture(scope='class')\n"
                "def node_id(request):\n"
                "    return request.node.nodeid\n\n"
                "class TestC:\n"
                "    @pytest.mark.parametrize('x', ['a::b', 'c'])\n"
                "    def test_x(self, node_id, x):\n"
                "        assert node_id == 'test_node.py::TestC'\n"
            )
        }
    )
    ours = run_dbtest("--no-cache", cwd=root)
    assert ours.code == 0, ours
    theirs = _pytest(root, "-q")
    assert theirs.returncode == 0, theirs.stdout
