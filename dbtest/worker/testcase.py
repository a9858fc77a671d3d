"""Running one ``unittest.TestCase`` test with unittest's own machinery, and
turning what its result object hears into one outcome and its subtests.

pytest's ``setup_method``/``teardown_method`` run around unittest's
``setUp``/test/``tearDown``, on the test's function node (`scopes`).
"""

from __future__ import annotations

from . import protocol
from .outcomes import (
    CALL,
    FAILED,
    PASS,
    PASSED,
    SETUP,
    SKIPPED,
    TEARDOWN,
    XFAILED,
    Outcome,
    format_exception,
    from_exception,
)
from .styles import set_up_fixtures
from .xunit import call_xunit, first_attr

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .collect import Target
    from .scopes import ScopeStack


_CASE_RESULT: type | None = None


def _case_result_class() -> type:
    """A ``unittest.TestResult`` that remembers the one outcome of one test."""
    global _CASE_RESULT
    if _CASE_RESULT is not None:
        return _CASE_RESULT
    import unittest
    from unittest.case import _SubTest

    class CaseResult(unittest.TestResult):
        def __init__(self) -> None:
            super().__init__()
            self.outcome: Outcome = PASS
            self.subtest_failures: list[tuple[str, Outcome]] = []
            self.subtests_passed = 0

        def _set(self, outcome: Outcome) -> None:
            # The first failure wins; a later teardown error does not hide it.
            if self.outcome is PASS or self.outcome.outcome == PASSED:
                self.outcome = outcome

        def addError(self, test: Any, err: Any) -> None:
            # pytest runs a TestCase's setUp, test and tearDown as its call:
            # whatever raises there fails the test (the phase says where).
            outcome = from_exception(err[1], CALL)._replace(phase=_unittest_phase(err[2], test))
            self._set(outcome)

        def addFailure(self, test: Any, err: Any) -> None:
            message, text = format_exception(err[1])
            self._set(Outcome(FAILED, _unittest_phase(err[2], test), None, message, text))

        def addSuccess(self, test: Any) -> None:
            pass

        def addSkip(self, test: Any, reason: str) -> None:
            if isinstance(test, _SubTest):
                # self.skipTest() inside a subTest block skips that block only.
                self.subtest_failures.append((test._subDescription(), Outcome(SKIPPED, CALL, None, reason)))
                return
            self._set(Outcome(SKIPPED, CALL, None, reason))

        def addExpectedFailure(self, test: Any, err: Any) -> None:
            message, _ = format_exception(err[1])
            self._set(Outcome(XFAILED, CALL, None, message))

        def addUnexpectedSuccess(self, test: Any) -> None:
            # pytest's verdict (and unittest's: the run is not successful).
            self._set(Outcome(FAILED, CALL, None, "Unexpected success"))

        def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
            if err is None:
                self.subtests_passed += 1
                return
            description = subtest._subDescription()
            if issubclass(err[0], test.failureException):
                message, text = format_exception(err[1])
                outcome = Outcome(FAILED, CALL, None, message, text)
            else:
                outcome = from_exception(err[1], CALL)
            self.subtest_failures.append((description, outcome))

    _CASE_RESULT = CaseResult
    return CaseResult


def _unittest_phase(tb: Any, test: Any) -> str:
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_locals.get("self") is test:
            name = frame.f_code.co_name
            if name in ("setUp", "asyncSetUp"):
                return SETUP
            if name in ("tearDown", "asyncTearDown", "doCleanups"):
                return TEARDOWN
        tb = tb.tb_next
    return CALL


def run_testcase(target: Target, stack: ScopeStack) -> tuple[Outcome, int, list[dict[str, Any]]]:
    """Runs one TestCase test: its outcome, passed subtests, failed (or skipped) subtests.

    As pytest 9 counts them, a failed or skipped ``subTest`` block is a result
    of its own and does not make the test itself fail or skip.
    """
    assert target.cls is not None and target.method is not None
    result = _case_result_class()()
    try:
        case = target.cls(target.method)
    except BaseException as exc:  # noqa: BLE001
        return from_exception(exc, SETUP), 0, []
    # pytest's autouse fixtures (and usefixtures) around the whole of it, bound to the case.
    fixtures = set_up_fixtures(target, stack, case)
    if isinstance(fixtures, Outcome):
        return fixtures, 0, []
    # pytest's xunit hooks around unittest's own setUp/test/tearDown.
    setup = first_attr(case, "setup_method")
    teardown = first_attr(case, "teardown_method")
    if setup is not None or teardown is not None:
        method = getattr(case, target.method)
        node = stack.function_node(target.name)
        if setup is not None:
            try:
                call_xunit(setup, method)
            except BaseException as exc:  # noqa: BLE001
                stack.finish_function()
                return from_exception(exc, SETUP), 0, []
        if teardown is not None:
            node.addfinalizer(lambda: call_xunit(teardown, method), "teardown_method")
    case.run(result)
    if stack.function is not None:
        failure = stack.finish_function()
        if failure is not None:
            result._set(failure)  # the first failure wins
    failures = [
        protocol.subtest_failure(description, o.outcome, o.message, o.traceback)
        for description, o in result.subtest_failures
    ]
    return result.outcome, result.subtests_passed, failures
