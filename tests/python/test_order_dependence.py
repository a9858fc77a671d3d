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


NEEDS_AN_IMPORT = {
    "pkg/__init__.py": "",
    "pkg/sub.py": "VALUE = 1\n",
    "test_a.py": "import pkg\n\n\ndef test_uses_pkg_sub():\n    assert pkg.sub.VALUE == 1\n",
    "test_b.py": "def test_imports_it():\n    import pkg.sub\n",
}


def test_a_submodule_only_another_test_imports_is_diagnosed(project):
    """No test module imports pkg.sub, test_b does as it runs: under pytest too,
    test_a fails or passes with the order. The failure names the submodule; the
    worker's import of every test module did not bring it, so the test is not
    run again (and, having run first in its worker, not rerun alone either)."""
    root = project(NEEDS_AN_IMPORT)
    run = run_dbtest("-j", "1", "--no-cache", "--json", "report.json", "test_a.py", "test_b.py", cwd=root)
    assert run.code == 1, run
    assert "note: pkg.sub is a module nothing had imported when this test ran" in run.stdout, run
    assert "test_uses_pkg_sub - AttributeError: module 'pkg' has no attribute 'sub'" in run.stdout, run
    result = results_by_name((root / "report.json").read_text())["test_uses_pkg_sub"]
    assert result["alone"] is None and result["warnings"] == [], result


def test_only_a_real_unimported_submodule_gets_the_note(tmp_path, monkeypatch):
    import importlib
    import sys

    from dbtest.worker.outcomes import unimported_submodule

    (tmp_path / "lazy_pkg").mkdir()
    (tmp_path / "lazy_pkg" / "__init__.py").write_text("")
    (tmp_path / "lazy_pkg" / "present.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    package = importlib.import_module("lazy_pkg")
    try:
        for name, expected in (("present", "lazy_pkg.present"), ("absent", None)):
            try:
                getattr(package, name)
            except AttributeError as exc:
                assert unimported_submodule(exc) == expected
        importlib.import_module("lazy_pkg.present")
        assert unimported_submodule(AttributeError("x", name="present", obj=object())) is None
        assert unimported_submodule(ValueError("module 'lazy_pkg' has no attribute 'present'")) is None
    finally:
        for module in [m for m in sys.modules if m.startswith("lazy_pkg")]:
            del sys.modules[module]


NEEDS_THE_TESTS_BEFORE_IT = {
    "test_state.py": "STATE = []\n\n\n"
    + "".join(
        f"def test_{i}():\n"
        + ("    assert STATE, 'needs the tests before it'\n" if i == 5 else "")
        + f"    STATE.append({i})\n\n\n"
        for i in range(10)
    ),
}


def test_a_test_that_needs_the_tests_before_it_is_diagnosed(project):
    """On two workers the module's ten tests are split in two stretches: test_5
    runs first in its worker, without test_0..4. Rerun after them, it passes."""
    root = project(NEEDS_THE_TESTS_BEFORE_IT)
    run = run_dbtest("-j", "2", "--no-cache", "--json", "report.json", cwd=root)
    assert run.code == 1, run
    assert "FAILED test_state.py::test_5 - AssertionError: needs the tests before it" in run.stdout, run
    assert "[passes after the 5 tests before it: depends on them]" in run.stdout, run
    result = results_by_name((root / "report.json").read_text())["test_5"]
    assert (result["alone"], result["rerun_after"]) == ("passed", 5), result
    # In one worker they run in order: nothing fails, nothing to diagnose.
    assert run_dbtest("-j", "1", "--no-cache", cwd=root).code == 0
