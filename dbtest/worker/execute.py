"""Running batches of tests: import the module, report what the import found,
wait for the coordinator's answer if it found tests nobody listed, then run
each test within its scopes (`scopes`) and report its result at once."""

from __future__ import annotations

import sys
import time

from . import options, preload, protocol
from .builtin_fixtures import subtest_results
from .children import ChildWatch
from .collect import FUNCTION, PLAIN_CLASS, TESTCASE, Target, module_tests, resolve
from .engine import call_hook, engine
from .isolation import restore
from .loader import load_module
from .marks import expected_to_fail, mark_verdict
from .outcomes import (
    ERROR,
    FAILED,
    IMPORT,
    PASSED,
    SETUP,
    SKIPPED,
    XFAILED,
    Outcome,
    format_exception,
    from_exception,
    take_unimported,
    teardown_error,
)
from .reporting import Reporter
from .scopes import ScopeStack
from .styles import run_function, run_plain_method, run_suite_method
from .testcase import run_testcase
from .warnfilters import Applied, FilterError
from .warnfilters import marks_of as filterwarnings_marks

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any


perf_counter = time.perf_counter


def _module_order(
    known: list[str], unlisted: list[tuple[str, list[str]]], tests: list[tuple[str, list[str]]]
) -> list[int]:
    """The module's tests in the order it runs them (``tests``, pytest's), as
    indices into ``known`` followed by ``unlisted``; [] when that is their
    order already. Static names the module does not define come first: they
    only report themselves missing."""
    rank = {name: index for index, (name, _) in enumerate(tests)}
    everything = [*known, *(name for name, _ in unlisted)]
    order = sorted(range(len(everything)), key=lambda index: rank.get(everything[index], -1))
    return [] if order == list(range(len(everything))) else order


class Runner:
    def __init__(self, channel: protocol.Channel, capture: Any) -> None:
        self.channel = channel
        self.capture = capture
        self.reporter = Reporter(channel, capture)
        self.children = ChildWatch()
        self.stack = ScopeStack(self.children, self.reporter.teardown_error)
        self.module: ModuleType | None = None
        self.module_name = ""
        self._missed = ""
        # `--cov`: the measurement's per-test hooks (None: coverage is off).
        measure = sys.modules.get("dbtest.worker.measure")
        self.measure: Any = measure if measure is not None and measure.active() else None

    def run_batch(self, message: dict[str, Any], wait_for_extend: Callable[[int], dict[str, Any]]) -> None:
        batch = message["batch"]
        ref = message["module"]
        module_name = ref["name"]
        names: list[str] = list(message["tests"])
        send = self.channel.send
        stack = self.stack
        # Scopes the module's tests do not share are torn down before it is
        # imported (pytest's `nextitem`): its import sees none of their state.
        stack.prepare_module(module_name)
        fresh = module_name not in sys.modules
        measure = self.measure
        if measure is not None:
            measure.batch_started(ref["path"])
        start = perf_counter()
        try:
            # Its conftests first, as pytest imports them before collecting it.
            engine().load_conftests(ref["path"])
            if options.current.warnings.active:
                # pytest applies the configured warning filters while collecting too.
                with Applied(options.current.warnings, ()):
                    module = load_module(ref)
            else:
                module = load_module(ref)
        except BaseException as exc:  # noqa: BLE001 - any import failure is reported
            duration = perf_counter() - start
            if fresh:
                stack.absorb()
            if message.get("collect_only"):
                self._collect_failed(module_name, exc, duration)
            elif not names and message["run_unlisted"]:
                # No test of the module is known to carry the error: it is
                # reported for the module itself (the empty name, the file's
                # id), as pytest reports a collection error.
                send(protocol.imported(batch, duration, [protocol.discovered("", [])], []))
                admitted = len(wait_for_extend(batch)["unlisted"])
                self._import_failed(batch, module_name, admitted, exc, duration)
            else:
                self._import_failed(batch, module_name, len(names), exc, duration)
            send(protocol.batch_done(batch))
            return
        import_time = perf_counter() - start
        self.capture.take()  # import-time output belongs to no test
        if fresh:
            stack.absorb()
        stack.set_module(module, module_name)
        self.module, self.module_name = module, module_name

        if message.get("collect_only"):
            # `dbtest list`: every test the module defines, in its order; nothing runs.
            try:
                found = module_tests(module)
            except Exception as exc:  # noqa: BLE001 - reported as pytest reports a collection error
                self._collect_failed(module_name, exc, import_time)
                found = []
            send(protocol.imported(batch, import_time, [protocol.discovered(n, t) for n, t in found], []))
            send(protocol.batch_done(batch))
            return
        unlisted: list[tuple[str, list[str]]] = []
        wanted: list[int] = []
        if message["run_unlisted"]:
            listed = {*names, *message["known"]}
            try:
                tests = module_tests(module)
            except Exception:  # noqa: BLE001 - an odd module must not cost the listed tests
                tests = []
            unlisted = [(n, tags) for n, tags in tests if n not in listed]
            wanted = _module_order(message["known"], unlisted, tests)
        send(protocol.imported(batch, import_time, [protocol.discovered(n, t) for n, t in unlisted], wanted))
        order = list(range(len(names)))
        if unlisted or wanted:
            extend = wait_for_extend(batch)
            names.extend(unlisted[i][0] for i in extend["unlisted"])
            names.extend(extend["tests"])
            order = list(extend["order"])

        last = len(order) - 1
        for index, position in enumerate(order):
            name = names[position]
            if measure is not None:
                measure.test_started(name)
            self._run_one(batch, position, name, resolve(module, name))
            if measure is not None:
                measure.after_test()
            if stack.klass is not None:
                stack.next_test(names[order[index + 1]] if index < last else None)
        send(protocol.batch_done(batch))

    def finish(self) -> None:
        self.stack.close()
        engine().close()

    def reset(self) -> None:
        """The run is over and the worker is kept for the next (`--watch`):
        every scope closes as at the end of a run (session fixtures included,
        teardown errors reported now), what was imported stays."""
        session = self.stack.nodes[0].snapshot if self.stack.nodes else None
        self.finish()
        if session is not None:
            restore(session)
        self.stack = ScopeStack(self.children, self.reporter.teardown_error)
        self.module, self.module_name = None, ""

    def _import_failed(self, batch: int, module_name: str, count: int, exc: BaseException, duration: float) -> None:
        outcome = from_exception(exc, IMPORT)
        if outcome.outcome in (SKIPPED, XFAILED):  # unittest.SkipTest / pytest.skip at module level
            outcome = Outcome(SKIPPED, IMPORT, None, outcome.message or "module skipped")
        else:
            message, text = format_exception(exc)
            outcome = Outcome(ERROR, IMPORT, "import", f"cannot import {module_name}: {message}", text)
        for position in range(count):
            self.reporter.result(batch, position, outcome, duration if position == 0 else 0.0, [])
        # A module that failed to import must not linger half-initialised.
        sys.modules.pop(module_name, None)

    def _collect_failed(self, module_name: str, exc: BaseException, duration: float) -> None:
        """Under `collect_only`: a module that failed to import is one error of
        phase `import` (pytest's "ERROR collecting"); one that skipped itself
        at module level defines no test and reports nothing."""
        sys.modules.pop(module_name, None)
        if from_exception(exc, IMPORT).outcome in (SKIPPED, XFAILED):
            return
        message, text = format_exception(exc)
        self.channel.send(
            protocol.fixture(
                module_name, "", IMPORT, duration, f"cannot import {module_name}: {message}", text, None, None
            )
        )

    def _run_one(self, batch: int, position: int, name: str, target: Target | None, missed: str = "") -> None:
        """Runs one test and reports it. ``missed``: the submodule whose absence
        failed the first run of this test (this is the run again)."""
        start = perf_counter()
        take_unimported()
        if target is None:
            outcome = Outcome(
                ERROR,
                SETUP,
                "missing",
                f"{name} is not defined in {self.module_name} (listed by static collection, not found at import)",
            )
            self.reporter.result(batch, position, outcome, 0.0, [])
            return
        hooks = engine().hooks
        module = self.module
        modify = hooks("pytest_collection_modifyitems", module) if module is not None else []
        runtest = hooks("pytest_runtest_setup", module) if module is not None else []
        plan = target.plan
        if (plan is not None and plan.needs_fixtures) or modify or runtest:
            target.item = self._item(target)
            for hook in modify:
                try:
                    call_hook(hook, session=None, config=engine().config, items=[target.item])
                except BaseException as exc:  # noqa: BLE001 - a broken hook errors the test
                    self.reporter.result(batch, position, from_exception(exc, SETUP), perf_counter() - start, [])
                    return
            target.marks = target.item.own_markers
        marks = target.marks
        if marks and options.current.strict_markers:
            unregistered = engine().unregistered_mark(marks)
            if unregistered is not None:
                outcome = Outcome(ERROR, SETUP, "exception", unregistered)
                self.reporter.result(batch, position, outcome, perf_counter() - start, [])
                return
        # pytest evaluates skip marks before any set-up of the test.
        try:
            reason, xfail = mark_verdict(marks, self.module)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - a broken condition errors the test
            self.reporter.result(batch, position, from_exception(exc, SETUP), perf_counter() - start, [])
            return
        if reason is not None:
            self.reporter.result(batch, position, Outcome(SKIPPED, SETUP, None, reason), perf_counter() - start, [])
            return
        if xfail is not None and not xfail.run:
            outcome = Outcome(XFAILED, SETUP, None, f"[NOTRUN] {xfail.reason}".rstrip())
            self.reporter.result(batch, position, outcome, perf_counter() - start, [])
            return
        if target.problem is not None:
            self.reporter.result(batch, position, target.problem, perf_counter() - start, [])
            return
        for hook in runtest:
            try:
                call_hook(hook, item=target.item)
            except BaseException as exc:  # noqa: BLE001 - its skip or error is the test's
                self.reporter.result(batch, position, from_exception(exc, SETUP), perf_counter() - start, [])
                return
        warning_marks = filterwarnings_marks(marks) if marks else ()
        if warning_marks or options.current.warnings.active:
            try:
                with Applied(options.current.warnings, warning_marks):
                    outcome, subtests_passed, subtests = self._run_in_scopes(target)
            except FilterError as exc:
                outcome, subtests_passed, subtests = Outcome(ERROR, SETUP, "exception", str(exc)), 0, None
        else:
            outcome, subtests_passed, subtests = self._run_in_scopes(target)
        item = target.item
        if item is not None and (item.subtests_passed or item.subtest_failures):
            # pytest's `subtests` fixture: each failed block is a result of its own.
            outcome, subtests_passed, subtests = subtest_results(item, outcome)
        if xfail is not None:
            outcome = expected_to_fail(outcome, xfail)
        if target.item is not None and module is not None:
            for hook in hooks("pytest_runtest_teardown", module):
                try:
                    call_hook(hook, item=target.item, nextitem=None)
                except BaseException as exc:  # noqa: BLE001 - an error in teardown
                    if outcome.outcome in (PASSED, SKIPPED, XFAILED):
                        outcome = teardown_error(exc)
        restore(self.stack.snapshot)
        warnings = self.children.check()
        if not missed and outcome.outcome in (FAILED, ERROR) and self._import_on_miss():
            self._run_one(batch, position, name, target, self._missed)
            return
        if missed and outcome.outcome == PASSED:
            warnings = [*warnings, _passed_once_imported(missed)]
        notes = engine().notes
        if notes:
            warnings = [*warnings, *notes]
            notes.clear()
        self.reporter.result(batch, position, outcome, perf_counter() - start, warnings, subtests_passed, subtests)

    def _import_on_miss(self) -> bool:
        """After a failure that named a submodule nothing had imported (under
        pytest, another test module may have): imports every test module of the
        run, once per worker, as pytest's collection would have. True when the
        test should run again."""
        missed = take_unimported()
        if not missed:
            return False
        modules = preload.take_on_miss()
        if not modules:
            return False
        self._missed = missed[0]
        self.capture.take()  # the first run's output goes with it
        preload.import_all(modules)
        return missed[0] in sys.modules

    def _item(self, target: Target) -> Any:
        """pytest's item for a test (what fixtures and hooks see as ``node``)."""
        module = self.module
        function = target.function if target.cls is None else getattr(target.cls, target.method or "", None)
        return engine().item(target.name, module, target.cls, function, target.marks, target.case)

    def _run_in_scopes(self, target: Target) -> tuple[Outcome, int, list[dict[str, Any]] | None]:
        """Enters the test's scopes and runs it in its style."""
        stack = self.stack
        subtests_passed, subtests = 0, None
        outcome = stack.enter(target)
        if outcome is None:
            style = target.style
            if style == FUNCTION:
                outcome = run_function(target, stack)
            elif style == TESTCASE:
                outcome, subtests_passed, subtests = run_testcase(target, stack)
            elif style == PLAIN_CLASS:
                outcome = run_plain_method(target, stack)
            else:
                outcome = run_suite_method(target, stack)
            if stack.function is not None:  # made by something other than the style's runner
                failure = stack.finish_function()
                if failure is not None and outcome.outcome in (PASSED, SKIPPED, XFAILED):
                    outcome = failure
        return outcome, subtests_passed, subtests


def _passed_once_imported(module: str) -> str:
    return (
        f"passed once every test module of the run was imported, as pytest imports them before any test: "
        f"it failed first because nothing had imported {module} (import it where it is used, or run with "
        "--import-all)"
    )
