"""Module and class set-up from the xunit hooks, as scope-stack nodes.

A node's set-up runs the hooks and registers their teardowns as finalizers,
in the reverse of the order they must run in: pytest's hook is torn down
first, then unittest's own (the reverse of set-up). What a set-up raises is
kept on the node (`scopes`).

- module: ``setup_module``/``setUpModule``, then ``teardown_module``/
  ``tearDownModule`` and unittest's module cleanups (``addModuleCleanup``);
- ``unittest.TestCase``: ``setUpClass`` (its class cleanups run at once if it
  fails), then pytest's ``setup_class``; ``teardown_class``,
  ``tearDownClass`` and the class cleanups;
- plain ``Test*`` classes: ``setup_class``/``teardown_class``;
- dbtest ``TestSuite``: one instance and one event loop for the suite,
  ``setup_suite``, and ``teardown_suite`` whenever ``setup_suite`` ran.
"""

from __future__ import annotations

import sys

from .collect import PLAIN_CLASS, TESTCASE
from .outcomes import SETUP, SKIPPED, from_exception

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .scopes import Node


def await_(value: Any, runner: Any = None) -> Any:
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


def first_attr(obj: Any, *names: str) -> Callable[..., Any] | None:
    for name in names:
        value = getattr(obj, name, None)
        if callable(value):
            return value
    return None


def call_xunit(func: Callable[..., Any], arg: Any) -> Any:
    """pytest calls module hooks with the module when they take an argument."""
    import inspect  # only modules with xunit hooks pay for it

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        params = {}
    return await_(func(arg) if params else func())


def set_up_module(node: Node, _: Any) -> bool:
    """Runs the module's set-up hook; whether there was one."""
    module = node.obj
    # pytest's per-function hooks, looked up once per module.
    node.function_hooks = (first_attr(module, "setup_function"), first_attr(module, "teardown_function"))
    node.addfinalizer(_module_cleanups, "module cleanups")
    setup = first_attr(module, "setup_module", "setUpModule")
    if setup is not None:
        try:
            call_xunit(setup, module)
        except BaseException as exc:  # noqa: BLE001 - every test of the module reports it
            node.failure = from_exception(exc, SETUP)
    if node.failure is None or node.failure.outcome == SKIPPED:
        teardown = first_attr(module, "teardown_module", "tearDownModule")
        if teardown is not None:
            name = "tearDownModule" if teardown.__name__ == "tearDownModule" else "teardown_module"
            node.addfinalizer(lambda: call_xunit(teardown, module), name)
    return setup is not None


def _module_cleanups() -> None:
    unittest = sys.modules.get("unittest")
    if unittest is not None:
        unittest.case.doModuleCleanups()


def set_up_class(node: Node, style: str) -> bool:
    """Runs the class's set-up hooks; whether any ran."""
    cls = node.obj
    qual = cls.__qualname__.replace(".", "::")
    try:
        if style == TESTCASE:
            if getattr(cls, "__unittest_skip__", False):
                return False  # unittest reports each test skipped; no class set-up
            try:
                cls.setUpClass()
            except BaseException:
                cls.doClassCleanups()
                raise
            node.addfinalizer(lambda: _class_cleanups(cls), f"{qual}::class cleanups")
            node.addfinalizer(cls.tearDownClass, f"{qual}::tearDownClass")
            # pytest's xunit hook, on TestCase classes too (after setUpClass).
            return _set_up_xunit_class(node, cls, qual) or not _inherits_set_up_class(cls)
        if style == PLAIN_CLASS:
            return _set_up_xunit_class(node, cls, qual)
        _set_up_suite(node, cls, qual)
    except BaseException as exc:  # noqa: BLE001 - every test of the class reports it
        node.failure = from_exception(exc, SETUP)
    return True


def _set_up_xunit_class(node: Node, cls: type, qual: str) -> bool:
    setup = first_attr(cls, "setup_class")
    if setup is not None:
        await_(setup())
    teardown = first_attr(cls, "teardown_class")
    if teardown is not None:
        node.addfinalizer(lambda: await_(teardown()), f"{qual}::teardown_class")
    return setup is not None


def _inherits_set_up_class(cls: type) -> bool:
    """Whether ``setUpClass`` is unittest's own, which does nothing."""
    import unittest

    return getattr(cls.setUpClass, "__func__", None) is unittest.TestCase.setUpClass.__func__


def _set_up_suite(node: Node, cls: type, qual: str) -> None:
    import asyncio

    loop = node.loop = asyncio.Runner()  # shared by the suite's hooks and tests
    node.addfinalizer(loop.close, f"{qual}::event loop")
    instance = node.instance = cls()
    teardown = getattr(instance, "teardown_suite", None)
    if teardown is not None:
        # Runs whenever setup_suite ran, even if it failed.
        node.addfinalizer(lambda: await_(teardown(), loop), f"{qual}::teardown_suite")
    setup = getattr(instance, "setup_suite", None)
    if setup is not None:
        await_(setup(), loop)


def _class_cleanups(cls: type) -> None:
    cls.doClassCleanups()  # type: ignore[attr-defined]
    errors = getattr(cls, "tearDown_exceptions", None)
    if errors:
        _, exc, _ = errors[0]
        errors.clear()
        raise exc
