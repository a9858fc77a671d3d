"""`dbtest list` (`--collect-only`) against `pytest --collect-only -q` on a
project whose tests only an import shows (`tests/fixtures/list_imports`:
tests made in loops, non-literal parameters, classes inheriting tests from
another module, unittest's `load_tests` and `type()`, a module that cannot be
imported, cases made by fixtures with `params=` and `pytest_generate_tests`
hooks in a conftest or the module): the same ids in the same order, with
selections and shards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES, run_dbtest

BROKEN = "test_broken.py"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("listing") / "list_imports"
    shutil.copytree(FIXTURES / "list_imports", root)
    (root / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: a slow test\n")
    return root


def _importable(root: Path) -> list[str]:
    """The test files but the one that cannot be imported."""
    return sorted(p.name for p in root.glob("test_*.py") if p.name != BROKEN)


def _pytest(root: Path, *args: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=root,
        capture_output=True,
        text=True,
    )
    return [line for line in run.stdout.splitlines() if "::" in line], run


@pytest.mark.parametrize("selection", [(), ("-k", "computed or own"), ("-m", "slow"), ("-k", "not made")], ids=repr)
def test_the_list_is_pytests_collection_in_its_order(project, selection):
    theirs, pytest_run = _pytest(project, *selection)
    ours = run_dbtest("list", *selection, cwd=project)
    assert ours.stdout.splitlines() == theirs, ours
    # A module that cannot be imported: shown as pytest shows it, same exit code.
    assert pytest_run.returncode == 2
    assert ours.code == 2, ours
    assert f"ERROR collecting {BROKEN}" in ours.stderr, ours
    assert "No module named 'module_that_does_not_exist_anywhere'" in ours.stderr, ours
    assert "Traceback" in ours.stderr and "dbtest/" not in ours.stderr.split("Traceback", 1)[1], ours


def test_collect_only_is_the_same_list(project):
    listed = run_dbtest("list", cwd=project)
    collect_only = run_dbtest("--collect-only", cwd=project)
    assert collect_only.stdout == listed.stdout and collect_only.code == listed.code, collect_only


def test_without_the_broken_module_the_list_succeeds(project):
    theirs, pytest_run = _pytest(project, *_importable(project))
    ours = run_dbtest("list", *_importable(project), cwd=project)
    assert pytest_run.returncode == 0 and ours.code == 0, ours
    assert ours.stdout.splitlines() == theirs


def test_shards_list_what_they_run_and_together_everything(project):
    theirs, _ = _pytest(project, *_importable(project))
    shards = [run_dbtest("list", *_importable(project), "--shard", f"{i}/3", cwd=project) for i in (1, 2, 3)]
    lists = [shard.stdout.splitlines() for shard in shards]
    together = [test for listed in lists for test in listed]
    assert sorted(together) == sorted(theirs), shards
    assert len(together) == len(set(together)), "no test is in two shards"
    for shard, listed in zip(shards, lists, strict=True):
        # Each shard keeps pytest's order within what it lists.
        assert listed == [test for test in theirs if test in listed], shard


def test_json_lists_the_tests_found_at_import(project):
    theirs, _ = _pytest(project, *_importable(project))
    run = run_dbtest("list", "--format", "json", *_importable(project), cwd=project)
    document = json.loads(run.stdout)
    assert [t["id"] for t in document["tests"]] == theirs
    made = next(t for t in document["tests"] if t["id"].endswith("::test_made_1"))
    assert made["found_at_import"] is True and made["file"] == "test_loops.py"


def test_json_reports_an_import_failure_as_an_error(project):
    run = run_dbtest("list", "--format", "json", cwd=project)
    assert run.code == 2, run
    errors = json.loads(run.stdout)["errors"]
    assert [e["file"] for e in errors] == [BROKEN]
    assert "module_that_does_not_exist_anywhere" in errors[0]["message"]


GENERATED = "generated"


@pytest.mark.parametrize("selection", [(), ("-k", "test_m and a"), ("-k", "test_num or test_k")], ids=repr)
def test_cases_made_by_fixtures_and_hooks_are_listed_and_selected(project, selection):
    theirs, _ = _pytest(project, GENERATED, *selection)
    assert len(theirs) > 1, "the fixture's and hooks' cases are there to select from"
    ours = run_dbtest("list", GENERATED, *selection, cwd=project)
    assert ours.code == 0 and ours.stdout.splitlines() == theirs, ours
    ran = run_dbtest(GENERATED, *selection, cwd=project)
    assert ran.code == 0 and ran.last_line.startswith(f"{len(theirs)} passed, 0 failed"), ran


def test_a_shard_of_made_cases_runs_what_it_lists(project):
    theirs, _ = _pytest(project, GENERATED)
    together: list[str] = []
    for index in (1, 2):
        listed = run_dbtest("list", GENERATED, "--shard", f"{index}/2", cwd=project).stdout.splitlines()
        ran = run_dbtest(GENERATED, "--shard", f"{index}/2", cwd=project)
        assert ran.code == 0 and ran.last_line.startswith(f"{len(listed)} passed, 0 failed"), ran
        together += listed
    assert sorted(together) == sorted(theirs)


def test_static_lists_without_importing(project):
    run = run_dbtest("list", "--static", cwd=project)
    assert run.code == 0, run
    listed = run.stdout.splitlines()
    assert "test_loops.py::test_plain" in listed
    assert not any("test_made_" in test for test in listed), "made at import: not seen"
    assert "may define tests this list cannot show" in run.stderr


def test_static_is_refused_outside_list(project):
    run = run_dbtest("--static", cwd=project)
    assert run.code == 4, run
    assert "--static applies to `dbtest list`" in run.stderr
