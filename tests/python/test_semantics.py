"""End-to-end: unittest, plain and TestSuite semantics on the fixture project
tests/fixtures/semantics, through the installed `dbtest`."""

from __future__ import annotations

import re

import pytest

from .conftest import FIXTURES, run_dbtest

SEMANTICS = FIXTURES / "semantics"


@pytest.fixture(scope="module")
def semantics(tmp_path_factory):
    log = tmp_path_factory.mktemp("semantics") / "events.log"
    # Failures are not rerun alone: the event log must hold one run of each test.
    args = ("-j", "2", "-v", "--no-cache", "--rerun-alone", "0", str(SEMANTICS))
    run = run_dbtest(*args, env={"DBTEST_SEMANTICS_LOG": str(log)})
    return run, log.read_text().splitlines()


def outcome_of(run, test_id_suffix: str) -> str:
    """The outcome label of a `-v` line: `LABEL    <id> (<duration>s, w<n>)`."""
    for line in run.stdout.splitlines():
        label, _, rest = line.partition(" ")
        test_id = rest.strip().rsplit(" (", 1)[0]
        if label.isupper() and test_id.endswith(test_id_suffix):
            return label
    raise AssertionError(f"no result line for {test_id_suffix}:\n{run.stdout}")


def test_summary_counts(semantics):
    run, _ = semantics
    assert run.code == 1, run
    assert run.last_line.startswith("13 passed, 5 failed, 7 errors, 7 skipped, 1 xfailed, 3 subtests passed in "), run


def test_unittest_lifecycle_order(semantics):
    _, events = semantics
    unittest_events = [e for e in events if not e.startswith(("suite:", "mixin"))]
    assert unittest_events == [
        "setUpModule",
        "setUpClass",
        "setUp test_a",
        "test_a",
        "tearDown test_a",
        "cleanup test_a",
        "setUp test_b_fails",
        "test_b_fails",
        "tearDown test_b_fails",
        "cleanup test_b_fails",
        "setUp test_c_errors",
        "tearDown test_c_errors",
        "cleanup test_c_errors",
        "tearDownClass",
        "classCleanup",
        "tearDownModule",
        "moduleCleanup",
    ]
    assert "SkippedClass.setUpClass should not run" not in events


def test_suite_lifecycle_order(semantics):
    _, events = semantics
    suite = [e for e in events if e.startswith("suite:") and "broken" not in e]
    per_test = ["suite:setup", None, "suite:teardown"]
    expected = ["suite:setup_suite"]
    for name in ("first", "second", "third_fails"):
        expected += [e or f"suite:{name}" for e in per_test]
    expected.append("suite:teardown_suite")
    assert suite == expected
    assert "suite:broken teardown_suite" in events, "teardown_suite runs even when setup_suite failed"


@pytest.mark.parametrize(
    ("suffix", "outcome"),
    [
        ("Lifecycle::test_a", "PASSED"),
        ("Lifecycle::test_b_fails", "FAILED"),
        ("Lifecycle::test_c_errors", "FAILED"),  # as pytest counts an exception in a TestCase
        ("Skips::test_skip", "SKIPPED"),
        ("Skips::test_skip_if", "SKIPPED"),
        ("Skips::test_skip_unless", "SKIPPED"),
        ("Skips::test_skip_test_raised", "SKIPPED"),
        ("SkippedClass::test_one", "SKIPPED"),
        ("Expected::test_expected_failure", "XFAILED"),
        ("Expected::test_unexpected_success", "FAILED"),  # pytest's verdict
        ("Subtests::test_subtests (i=3)", "FAILED"),
        ("Subtests::test_subtests", "PASSED"),
        ("Async::test_async", "PASSED"),
        ("Pickling::test_pickle_round_trip", "PASSED"),
        ("BrokenSetUpClass::test_one", "ERROR"),
        ("BrokenSetUpClass::test_two", "ERROR"),
        ("UsesMixin::test_from_mixin", "PASSED"),
        ("Generated1::test_generated", "PASSED"),
        ("Generated2::test_generated", "PASSED"),
        ("pkg/test_module_skip.py", "SKIPPED"),  # the module, once: as pytest and unittest count it
        ("test_import_error.py::test_cannot_run", "ERROR"),
        ("test_syntax_error.py", "ERROR"),
        ("test_multiprocessing_pool", "PASSED"),
        ("test_async_function_gets_a_fresh_loop", "PASSED"),
        ("TestPlain::test_setup_method_ran", "PASSED"),
        ("TestHooksWithoutArguments::test_hooks_without_arguments", "PASSED"),
        ("Lifecycle::first", "PASSED"),
        ("Lifecycle::third_fails", "FAILED"),
        ("Lifecycle::skipped", "SKIPPED"),
        ("BrokenSuite::one", "ERROR"),
    ],
)
def test_outcome(semantics, suffix, outcome):
    run, _ = semantics
    assert outcome_of(run, suffix) == outcome


def test_not_collected(semantics):
    run, _ = semantics
    assert "NotCollected" not in run.stdout
    assert "Helper::" not in run.stdout


def test_failures_show_tracebacks_and_reasons(semantics):
    run, _ = semantics
    assert "RuntimeError: setUpClass broke" in run.stdout
    assert "RuntimeError: setup_suite broke" in run.stdout
    assert "No module named 'this_module_does_not_exist'" in run.stdout
    assert re.search(r"test_syntax_error\.py.*line 4", run.stdout)
    assert "importlib/__init__.py" not in run.stdout, "importlib's frames are hidden"
    assert "unittest/case.py" not in run.stdout, "unittest's frames are hidden"
