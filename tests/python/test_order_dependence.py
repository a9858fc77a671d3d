"""A test that fails in the run and passes when rerun alone in a fresh worker
is reported as possibly depending on other tests — a diagnosis beside its
outcome, not a retry's flaky verdict."""

from __future__ import annotations

import json

from .conftest import run_dbtest

POLLUTED = """\
STATE = []


def test_a_leaves_state():
    STATE.append(1)


def test_b_needs_a_clean_state():
    assert not STATE


def test_c_always_fails():
    assert 1 == 2
"""


def results_by_name(report: str) -> dict[str, dict]:
    return {test["id"].split("::")[-1]: test for test in json.loads(report)["tests"]}


def test_a_failure_that_passes_alone_is_named_as_such(project):
    root = project({"test_polluted.py": POLLUTED})
    run = run_dbtest("-j", "1", "--no-cache", "--json", "report.json", cwd=root)
    assert run.code == 1, run
    summary = run.stdout.split("short test summary info")[1]
    assert (
        "FAILED test_polluted.py::test_b_needs_a_clean_state - AssertionError: assert not [1] "
        "[passes alone: may depend on other tests]" in summary
    ), run
    assert "test_c_always_fails - AssertionError: assert 1 == 2\n" in summary, run
    assert run.last_line.startswith("1 passed, 2 failed"), "counts as the run saw them"
    tests = results_by_name((root / "report.json").read_text())
    assert tests["test_b_needs_a_clean_state"]["alone"] == "passed"
    assert tests["test_c_always_fails"]["alone"] == "failed"
    assert tests["test_a_leaves_state"]["alone"] is None


def test_it_is_not_a_retry_a_retry_in_the_same_worker_fails_again(project):
    root = project({"test_polluted.py": POLLUTED})
    run = run_dbtest("-j", "1", "--no-cache", "--retries", "1", "--json", "report.json", cwd=root)
    assert run.code == 1, run
    tests = results_by_name((root / "report.json").read_text())
    polluted = tests["test_b_needs_a_clean_state"]
    assert (polluted["outcome"], polluted["attempts"], polluted["flaky"]) == ("failed", 2, False)
    assert polluted["alone"] == "passed"
    assert "FLAKY" not in run.stdout


def test_a_test_its_worker_ran_first_is_not_rerun(project):
    root = project({"test_polluted.py": POLLUTED})
    run = run_dbtest("--no-cache", "--json", "report.json", "test_polluted.py::test_c_always_fails", cwd=root)
    assert run.code == 1, run
    assert results_by_name((root / "report.json").read_text())["test_c_always_fails"]["alone"] is None


def test_stopping_early_skips_the_reruns(project):
    root = project({"test_polluted.py": POLLUTED})
    run = run_dbtest("-j", "1", "-x", "--no-cache", "--json", "report.json", cwd=root)
    assert run.code == 1, run
    assert results_by_name((root / "report.json").read_text())["test_b_needs_a_clean_state"]["alone"] is None


def test_the_json_report_carries_the_shuffle_seed(project):
    root = project({"test_polluted.py": POLLUTED})
    run_dbtest("--seed", "17", "--no-cache", "--json", "report.json", cwd=root)
    assert json.loads((root / "report.json").read_text())["run"]["seed"] == 17


def test_rerun_alone_0_turns_the_reruns_off(project):
    root = project({"test_polluted.py": POLLUTED, "pyproject.toml": "[tool.dbtest]\nrerun-alone = 5\n"})
    run = run_dbtest("-j", "1", "--rerun-alone", "0", "--no-cache", "--json", "report.json", cwd=root)
    assert run.code == 1, run
    assert "passes alone" not in run.stdout
    assert results_by_name((root / "report.json").read_text())["test_b_needs_a_clean_state"]["alone"] is None
    # The configuration's limit applies without the option.
    run_dbtest("-j", "1", "--no-cache", "--json", "report.json", cwd=root)
    assert results_by_name((root / "report.json").read_text())["test_b_needs_a_clean_state"]["alone"] == "passed"
