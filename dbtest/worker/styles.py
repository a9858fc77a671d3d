"""Running one test of each plain style: a function, a method of a plain
``Test*`` class, a method of a dbtest ``TestSuite`` (``unittest.TestCase`` is
`testcase`'s).

Per-test hooks (pytest's ``setup_function``/``setup_method``, a suite's
``setup``/``teardown``) set up the test's function node: the set-up runs
before the call and the teardown is the node's finalizer, run after the call
whatever it did. A test without hooks, the common case, gets no node and no
closure: it is called, and awaited if it returns an awaitable.
"""

from __future__ import annotations

from .outcomes import CALL, ERROR, PASS, PASSED, SETUP, SKIPPED, XFAILED, Outcome, from_exception
from .xunit import await_, call_xunit, first_attr

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .collect import Target
    from .scopes import ScopeStack


def set_up_fixtures(target: Target, stack: ScopeStack, instance: Any) -> dict[str, Any] | Outcome:
    """The test's fixtures, set up: the arguments to call it with, or the
    set-up error. Function-scoped ones are torn down with the test's node."""
    plan = target.plan
    if plan is None:
        return {}
    case = target.case
    if not plan.needs_fixtures:
        if case is None:
            return {}
        params = case.params
        return {arg: params[arg] for arg in plan.argnames}
    from .builtins.phases import enter_phase
    from .engine import engine
    from .fixtures import FixtureLookupError

    # Built-ins that care (caplog, capsys) hear of each phase of the test.
    enter_phase("setup")
    try:
        arguments = engine().run(plan, target.item, target.case, stack, instance)
        # The last finalizer of the test's node runs first: its teardown begins.
        stack.function_node(target.name).addfinalizer(lambda: enter_phase("teardown"), "teardown phase")
        enter_phase("call")
        return arguments
    except FixtureLookupError as exc:
        text = str(exc)
        return Outcome(ERROR, SETUP, "exception", text.splitlines()[0], text)
    except BaseException as exc:  # noqa: BLE001 - a fixture's error is the test's set-up error
        return from_exception(exc, SETUP)


def run_function(target: Target, stack: ScopeStack) -> Outcome:
    function = target.function
    assert function is not None and stack.module is not None
    setup, teardown = stack.module.function_hooks
    kwargs = set_up_fixtures(target, stack, None)
    if isinstance(kwargs, Outcome):
        return kwargs
    if setup is None and teardown is None:
        return _call(target, function, kwargs)
    return _with_hooks(target, stack, function, setup, teardown, "teardown_function", kwargs)


def run_plain_method(target: Target, stack: ScopeStack) -> Outcome:
    assert target.cls is not None and target.method is not None
    try:
        instance = target.cls()
    except BaseException as exc:  # noqa: BLE001
        return from_exception(exc, SETUP)
    method = getattr(instance, target.method)
    kwargs = set_up_fixtures(target, stack, instance)
    if isinstance(kwargs, Outcome):
        return kwargs
    setup = first_attr(instance, "setup_method")
    teardown = first_attr(instance, "teardown_method")
    if setup is None and teardown is None:
        return _call(target, method, kwargs)
    return _with_hooks(target, stack, method, setup, teardown, "teardown_method", kwargs)


def _call(target: Target, test: Callable[..., Any], kwargs: dict[str, Any]) -> Outcome:
    """A test without per-test hooks, the common case: no function node, only
    the call (awaited if it returns an awaitable)."""
    try:
        result = test(**kwargs) if kwargs else test()
        if result is not None:
            await_(result, _loop_for(target))
    except BaseException as exc:  # noqa: BLE001
        return from_exception(exc, CALL)
    return PASS


def _with_hooks(
    target: Target,
    stack: ScopeStack,
    test: Callable[[], Any],
    setup: Callable[..., Any] | None,
    teardown: Callable[..., Any] | None,
    teardown_name: str,
    kwargs: dict[str, Any] | None,
) -> Outcome:
    failed = set_up_hooks(target, stack, test, setup, teardown, teardown_name)
    if failed is not None:
        return failed
    if kwargs:
        return call_and_finish(lambda: test(**kwargs), _loop_for(target), stack)
    return call_and_finish(test, _loop_for(target), stack)


def set_up_hooks(
    target: Target,
    stack: ScopeStack,
    test: Callable[..., Any],
    setup: Callable[..., Any] | None,
    teardown: Callable[..., Any] | None,
    teardown_name: str,
) -> Outcome | None:
    """pytest's per-test xunit hooks (``setup_function``, ``setup_method``), which
    get the test function (or bound method) if they take an argument, on the
    test's function node: the set-up now, the teardown as the node's finalizer.
    What the set-up raised is the test's outcome (its node already torn down);
    None when it succeeded."""
    node = stack.function_node(target.name)
    if setup is not None:
        try:
            call_xunit(setup, test)
        except BaseException as exc:  # noqa: BLE001
            stack.finish_function()
            return from_exception(exc, SETUP)
    if teardown is not None:
        node.addfinalizer(lambda: call_xunit(teardown, test), teardown_name)
    return None


def run_suite_method(target: Target, stack: ScopeStack) -> Outcome:
    suite = stack.klass
    assert suite is not None
    instance, loop = suite.instance, suite.loop
    method = getattr(instance, target.method or "")
    info = getattr(method, "__dbtest_test__", None)
    skip = getattr(info, "skip", None)
    if skip:
        return Outcome(SKIPPED, SETUP, None, skip if isinstance(skip, str) else "skipped")
    node = stack.function_node(target.name)
    setup = getattr(instance, "setup", None)
    if callable(setup):
        try:
            await_(setup(), loop)
        except BaseException as exc:  # noqa: BLE001
            stack.finish_function()
            return from_exception(exc, SETUP)
    teardown = getattr(instance, "teardown", None)
    if callable(teardown):
        node.addfinalizer(lambda: await_(teardown(), loop), "teardown")
    return call_and_finish(method, loop, stack)


def _loop_for(target: Target) -> Any:
    """Async tests that use fixtures share the engine's event loop with async fixtures."""
    if target.plan is None:
        return None
    from .engine import engine

    return engine().async_runner


def call_and_finish(test: Callable[[], Any], loop: Any, stack: ScopeStack) -> Outcome:
    """The call (awaited on ``loop`` if it returns an awaitable), then the test's
    node torn down: a teardown error makes a passed (or skipped, or xfailed)
    test an error."""
    outcome = PASS
    try:
        await_(test(), loop)
    except BaseException as exc:  # noqa: BLE001
        outcome = from_exception(exc, CALL)
    failure = stack.finish_function()
    if failure is not None and outcome.outcome in (PASSED, SKIPPED, XFAILED):
        outcome = failure
    return outcome
