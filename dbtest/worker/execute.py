"""Running batches of tests, with the set-up and teardown of their modules and
classes, and reporting each result as soon as it is known."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import ModuleType

from . import protocol
from .children import ChildWatch
from .collect import FUNCTION, PLAIN_CLASS, SUITE, TESTCASE, Target, module_tests, resolve
from .isolation import Isolation
from .loader import load_module
from .marks import Xfail, mark_verdict
from .outcomes import (
    CALL,
    ERROR,
    FAILED,
    IMPORT,
    PASS,
    PASSED,
    SETUP,
    SKIPPED,
    TEARDOWN,
    XFAILED,
    XPASSED,
    Outcome,
    format_exception,
    from_exception,
)

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


perf_counter = time.perf_counter


def _await(value: Any, runner: Any = None) -> Any:
    """Runs ``value`` to completion if it is awaitable (on ``runner``'s loop or a fresh one)."""
    # Most tests return None; anything awaitable has __await__ on its type.
    if value is None or not hasattr(type(value), "__await__"):
        return value
    import asyncio

    async def wrap() -> Any:
        return await value

    if runner is not None:
        return runner.run(wrap())
    with asyncio.Runner() as fresh:
        return fresh.run(wrap())


def _first_attr(obj: Any, *names: str) -> Callable[..., Any] | None:
    for name in names:
        value = getattr(obj, name, None)
        if callable(value):
            return value
    return None


class ClassState:
    """The class whose tests are running: its fixture state, torn down on switch."""

    def __init__(self, cls: type, style: str) -> None:
        self.cls = cls
        self.style = style
        self.setup_failure: Outcome | None = None
        self.instance: Any = None
        self.loop: Any = None  # one event loop per TestSuite, shared by its hooks and tests


class Runner:
    def __init__(self, channel: protocol.Channel, capture: Any, capture_passed: bool) -> None:
        self.channel = channel
        self.capture = capture
        self.capture_passed = capture_passed
        self.module: ModuleType | None = None
        self.module_name = ""
        self.module_ready = False
        self.module_setup_failure: Outcome | None = None
        self.klass: ClassState | None = None
        self.function_hooks: tuple[Callable[..., Any] | None, Callable[..., Any] | None] = (None, None)
        self.isolation = Isolation()
        self.children = ChildWatch()
        # Subtest results of the TestCase test that just ran (see _run_testcase).
        self.subtests_passed = 0
        self.subtest_failures: list[dict[str, Any]] = []

    # -- batches ---------------------------------------------------------------

    def run_batch(self, message: dict[str, Any], wait_for_extend: Callable[[int], dict[str, Any]]) -> None:
        batch = message["batch"]
        ref = message["module"]
        names: list[str] = list(message["tests"])
        send = self.channel.send
        start = perf_counter()
        try:
            module = load_module(ref)
        except BaseException as exc:  # noqa: BLE001 - any import failure is reported
            self._import_failed(batch, ref["name"], names, exc, perf_counter() - start)
            send(protocol.batch_done(batch))
            return
        import_time = perf_counter() - start
        self.capture.take()  # import-time output belongs to no test
        self._enter_module(module, ref["name"])
        self._fixtures_settled()

        unlisted: list[tuple[str, list[str]]] = []
        if message["run_unlisted"]:
            listed = {*names, *message["known"]}
            try:
                unlisted = [(n, tags) for n, tags in module_tests(module) if n not in listed]
            except Exception:  # noqa: BLE001 - an odd module must not cost the listed tests
                unlisted = []
        send(protocol.imported(batch, import_time, [protocol.discovered(n, t) for n, t in unlisted]))
        order = list(range(len(names)))
        if unlisted:
            extend = wait_for_extend(batch)
            names.extend(unlisted[i][0] for i in extend["unlisted"])
            order = list(extend["order"])

        for index, position in enumerate(order):
            name = names[position]
            target = resolve(module, name)
            self._run_one(batch, position, name, target)
            # Close the class once its last test in the batch is done (classes are
            # never split across batches), so its teardown is reported promptly.
            following = names[order[index + 1]] if index + 1 < len(order) else None
            if self.klass is not None and (
                following is None or following.rsplit("::", 1)[0] != name.rsplit("::", 1)[0]
            ):
                self._close_class()
        send(protocol.batch_done(batch))

    def finish(self) -> None:
        self._close_class()
        self._close_module()

    def _fixtures_settled(self) -> None:
        """What imports and fixtures changed is the state each test starts from."""
        self.isolation.snapshot()
        self.children.accept()

    # -- reporting -------------------------------------------------------------

    def _report(self, batch: int, position: int, outcome: Outcome, duration: float, warnings: list[str]) -> None:
        stdout, stderr = self.capture.take()
        if outcome.outcome == PASSED and not self.capture_passed:
            stdout = stderr = ""
        subtests_passed, subtests = self.subtests_passed, self.subtest_failures
        if subtests_passed or subtests:
            self.subtests_passed, self.subtest_failures = 0, []
        elif outcome is PASS and not (stdout or stderr or warnings):
            self.channel.send_frame(protocol.passed_frame(batch, position, duration))
            return
        self.channel.send(
            protocol.result(
                batch,
                position,
                outcome.outcome,
                outcome.phase,
                outcome.error_kind,
                duration,
                outcome.message,
                outcome.traceback,
                stdout or None,
                stderr or None,
                subtests_passed,
                subtests,
                warnings,
            )
        )

    def _report_fixture(self, name: str, outcome: Outcome, duration: float) -> None:
        stdout, stderr = self.capture.take()
        self.channel.send(
            protocol.fixture(
                self.module_name,
                name,
                outcome.phase,
                duration,
                outcome.message,
                outcome.traceback,
                stdout or None,
                stderr or None,
            )
        )

    def _import_failed(
        self, batch: int, module_name: str, names: list[str], exc: BaseException, duration: float
    ) -> None:
        outcome = from_exception(exc, IMPORT)
        if outcome.outcome in (SKIPPED, XFAILED):  # unittest.SkipTest / pytest.skip at module level
            outcome = Outcome(SKIPPED, IMPORT, None, outcome.message or "module skipped")
        else:
            message, text = format_exception(exc)
            outcome = Outcome(ERROR, IMPORT, "import", f"cannot import {module_name}: {message}", text)
        for position in range(len(names)):
            self._report(batch, position, outcome, duration if position == 0 else 0.0, [])
        # A module that failed to import must not linger half-initialised.
        sys.modules.pop(module_name, None)

    # -- module and class fixtures ---------------------------------------------

    def _enter_module(self, module: ModuleType, name: str) -> None:
        if module is self.module:
            return
        self._close_class()
        self._close_module()
        self.module = module
        self.module_name = name
        self.module_ready = False
        self.module_setup_failure = None
        # pytest's per-function xunit hooks, looked up once per module.
        self.function_hooks = (
            _first_attr(module, "setup_function"),
            _first_attr(module, "teardown_function"),
        )

    def _ensure_module_setup(self) -> Outcome | None:
        if not self.module_ready:
            self.module_ready = True
            setup = _first_attr(self.module, "setup_module", "setUpModule")
            if setup is not None:
                try:
                    _call_xunit(setup, self.module)
                except BaseException as exc:  # noqa: BLE001
                    self.module_setup_failure = from_exception(exc, SETUP)
        return self.module_setup_failure

    def _close_module(self) -> None:
        module = self.module
        if module is None:
            return
        ran_setup = self.module_ready
        self.module = None
        if not ran_setup:
            return
        if self.module_setup_failure is None or self.module_setup_failure.outcome == SKIPPED:
            teardown = _first_attr(module, "teardown_module", "tearDownModule")
            if teardown is not None:
                self._run_fixture(
                    "tearDownModule" if teardown.__name__ == "tearDownModule" else "teardown_module",
                    lambda: _call_xunit(teardown, module),
                )
        unittest = sys.modules.get("unittest")
        if unittest is not None:
            self._run_fixture("module cleanups", unittest.case.doModuleCleanups)
        self.children.accept()

    def _run_fixture(self, name: str, call: Callable[[], Any]) -> None:
        start = perf_counter()
        try:
            call()
        except BaseException as exc:  # noqa: BLE001
            outcome = from_exception(exc, TEARDOWN)
            if outcome.outcome not in (PASSED, SKIPPED):
                message, text = format_exception(exc)
                self._report_fixture(name, Outcome(ERROR, TEARDOWN, "exception", message, text), perf_counter() - start)

    def _enter_class(self, cls: type, style: str) -> ClassState:
        state = self.klass
        if state is not None and state.cls is cls:
            return state
        self._close_class()
        state = self.klass = ClassState(cls, style)
        try:
            skipped = getattr(cls, "__unittest_skip__", False)
            if style == TESTCASE and not skipped:
                try:
                    cls.setUpClass()
                except BaseException:
                    cls.doClassCleanups()
                    raise
            if style == PLAIN_CLASS or (style == TESTCASE and not skipped):
                # pytest's xunit hook, on TestCase classes too (after setUpClass).
                setup = _first_attr(cls, "setup_class")
                if setup is not None:
                    _await(setup())
            if style == SUITE:
                import asyncio

                state.loop = asyncio.Runner()
                state.instance = cls()
                hook = getattr(state.instance, "setup_suite", None)
                if hook is not None:
                    _await(hook(), state.loop)
        except BaseException as exc:  # noqa: BLE001
            state.setup_failure = from_exception(exc, SETUP)
        return state

    def _close_class(self) -> None:
        state = self.klass
        if state is None:
            return
        self.klass = None
        cls = state.cls
        qual = cls.__qualname__.replace(".", "::")
        skipped = state.style == TESTCASE and getattr(cls, "__unittest_skip__", False)
        set_up = state.setup_failure is None and not skipped
        if set_up and state.style in (TESTCASE, PLAIN_CLASS):
            # pytest's xunit hook first, then unittest's own (the reverse of set-up).
            teardown = _first_attr(cls, "teardown_class")
            if teardown is not None:
                self._run_fixture(f"{qual}::teardown_class", lambda: _await(teardown()))
        if set_up and state.style == TESTCASE:
            self._run_fixture(f"{qual}::tearDownClass", cls.tearDownClass)
            self._run_fixture(f"{qual}::class cleanups", lambda: _class_cleanups(cls))
        elif state.style == SUITE:
            hook = getattr(state.instance, "teardown_suite", None) if state.instance is not None else None
            # teardown_suite runs whenever setup_suite ran, even if it failed.
            if hook is not None and state.instance is not None:
                self._run_fixture(f"{qual}::teardown_suite", lambda: _await(hook(), state.loop))
            if state.loop is not None:
                state.loop.close()
        self.children.accept()

    # -- one test ----------------------------------------------------------------

    def _run_one(self, batch: int, position: int, name: str, target: Target | None) -> None:
        start = perf_counter()
        if target is None:
            outcome = Outcome(
                ERROR,
                SETUP,
                "missing",
                f"{name} is not defined in {self.module_name} (listed by static collection, not found at import)",
            )
            self._report(batch, position, outcome, 0.0, [])
            return
        # pytest evaluates skip marks before any set-up of the test.
        function = target.function if target.cls is None else getattr(target.cls, target.method or "", None)
        try:
            reason, xfail = mark_verdict(self.module, target.cls, function)
        except BaseException as exc:  # noqa: BLE001 - a broken condition errors the test
            self._report(batch, position, from_exception(exc, SETUP), perf_counter() - start, [])
            return
        if reason is not None:
            self._report(batch, position, Outcome(SKIPPED, SETUP, None, reason), perf_counter() - start, [])
            return
        if xfail is not None and not xfail.run:
            outcome = Outcome(XFAILED, SETUP, None, f"[NOTRUN] {xfail.reason}".rstrip())
            self._report(batch, position, outcome, perf_counter() - start, [])
            return
        fixtures_ran = not self.module_ready
        outcome = self._ensure_module_setup()
        if outcome is None:
            style = target.style
            if style == FUNCTION:
                if fixtures_ran:
                    self._fixtures_settled()
                outcome = self._run_function(target)
            else:
                assert target.cls is not None
                fixtures_ran |= self.klass is None or self.klass.cls is not target.cls
                state = self._enter_class(target.cls, style)
                if fixtures_ran:
                    self._fixtures_settled()
                if state.setup_failure is not None:
                    outcome = state.setup_failure
                elif style == TESTCASE:
                    outcome = self._run_testcase(target)
                elif style == PLAIN_CLASS:
                    outcome = self._run_plain_method(target)
                else:
                    outcome = self._run_suite_method(target, state)
        if xfail is not None:
            outcome = _expected_to_fail(outcome, xfail)
        self.isolation.restore()
        warnings = self.children.check()
        self._report(batch, position, outcome, perf_counter() - start, warnings)

    def _run_testcase(self, target: Target) -> Outcome:
        outcome, self.subtests_passed, self.subtest_failures = _run_testcase(target)
        return outcome

    def _run_function(self, target: Target) -> Outcome:
        function = target.function
        assert function is not None
        setup, teardown = self.function_hooks
        if setup is None and teardown is None:
            # The common case, kept free of closures: call, and await if needed.
            try:
                result = function()
                if result is not None:
                    _await(result)
            except BaseException as exc:  # noqa: BLE001
                return from_exception(exc, CALL)
            return PASS
        return _three_phases(
            (lambda: setup(function)) if setup else None,
            lambda: _await(function()),
            (lambda: teardown(function)) if teardown else None,
        )

    def _run_plain_method(self, target: Target) -> Outcome:
        assert target.cls is not None and target.method is not None
        try:
            instance = target.cls()
        except BaseException as exc:  # noqa: BLE001
            return from_exception(exc, SETUP)
        method = getattr(instance, target.method)
        setup = _first_attr(instance, "setup_method")
        teardown = _first_attr(instance, "teardown_method")
        return _three_phases(
            (lambda: setup(method)) if setup else None,
            lambda: _await(method()),
            (lambda: teardown(method)) if teardown else None,
        )

    def _run_suite_method(self, target: Target, state: ClassState) -> Outcome:
        instance = state.instance
        method = getattr(instance, target.method or "")
        info = getattr(method, "__dbtest_test__", None)
        skip = getattr(info, "skip", None)
        if skip:
            return Outcome(SKIPPED, SETUP, None, skip if isinstance(skip, str) else "skipped")
        loop = state.loop
        setup = getattr(instance, "setup", None)
        teardown = getattr(instance, "teardown", None)
        return _three_phases(
            (lambda: _await(setup(), loop)) if callable(setup) else None,
            lambda: _await(method(), loop),
            (lambda: _await(teardown(), loop)) if callable(teardown) else None,
        )


def _call_xunit(func: Callable[..., Any], arg: Any) -> Any:
    """pytest calls xunit hooks with the module/function/method when they take one."""
    import inspect  # only modules with xunit hooks pay for it

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        params = {}
    return _await(func(arg) if params else func())


def _class_cleanups(cls: type) -> None:
    cls.doClassCleanups()  # type: ignore[attr-defined]
    errors = getattr(cls, "tearDown_exceptions", None)
    if errors:
        _, exc, _ = errors[0]
        errors.clear()
        raise exc


def _expected_to_fail(outcome: Outcome, xfail: Xfail) -> Outcome:
    """What an ``xfail`` mark makes of an outcome, as pytest decides it."""
    if outcome.outcome in (FAILED, ERROR):
        if xfail.raises is not None and not (outcome.raised is not None and issubclass(outcome.raised, xfail.raises)):
            return outcome
        return Outcome(XFAILED, outcome.phase, None, xfail.reason or outcome.message)
    if outcome.outcome == PASSED:
        if xfail.strict:
            return Outcome(FAILED, CALL, None, f"[XPASS(strict)] {xfail.reason}".rstrip())
        return Outcome(XPASSED, CALL, None, xfail.reason)
    return outcome


def _three_phases(
    setup: Callable[[], Any] | None,
    call: Callable[[], Any],
    teardown: Callable[[], Any] | None,
) -> Outcome:
    """setup, call, teardown; teardown runs if setup succeeded, whatever the call did."""
    if setup is not None:
        try:
            setup()
        except BaseException as exc:  # noqa: BLE001
            return from_exception(exc, SETUP)
    outcome = PASS
    try:
        call()
    except BaseException as exc:  # noqa: BLE001
        outcome = from_exception(exc, CALL)
    if teardown is not None:
        try:
            teardown()
        except BaseException as exc:  # noqa: BLE001
            if outcome.outcome in (PASSED, SKIPPED, XFAILED):
                outcome = _teardown_error(exc)
    return outcome


def _teardown_error(exc: BaseException) -> Outcome:
    """A teardown that raised makes the test an error, whatever it raised."""
    outcome = from_exception(exc, TEARDOWN)
    if outcome.outcome == FAILED:
        outcome = outcome._replace(outcome=ERROR, error_kind="exception")
    return outcome


# -- unittest --------------------------------------------------------------------

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
            exc = err[1]
            phase = _unittest_phase(err[2], test)
            outcome = from_exception(exc, phase)
            if outcome.outcome == FAILED:
                outcome = outcome._replace(outcome=ERROR, error_kind="exception")
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
                if outcome.outcome == FAILED:
                    outcome = outcome._replace(outcome=ERROR, error_kind="exception")
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


def _run_testcase(target: Target) -> tuple[Outcome, int, list[dict[str, Any]]]:
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
    # pytest's xunit hooks around unittest's own setUp/test/tearDown.
    setup = _first_attr(case, "setup_method")
    teardown = _first_attr(case, "teardown_method")
    if setup is not None:
        try:
            setup(getattr(case, target.method))
        except BaseException as exc:  # noqa: BLE001
            return from_exception(exc, SETUP), 0, []
    case.run(result)
    if teardown is not None:
        try:
            teardown(getattr(case, target.method))
        except BaseException as exc:  # noqa: BLE001
            result._set(_teardown_error(exc))
    failures = [
        protocol.subtest_failure(description, o.outcome, o.message, o.traceback)
        for description, o in result.subtest_failures
    ]
    return result.outcome, result.subtests_passed, failures
