"""The worker's scope stack, in process: nodes along a test's path, finalizers,
remembered set-up failures, the `nextitem` rule, and per-scope snapshots."""

from __future__ import annotations

import os
import types
from collections.abc import Iterator
from typing import Any

import pytest

from dbtest.worker.collect import FUNCTION, PLAIN_CLASS, Target
from dbtest.worker.names import class_path
from dbtest.worker.scopes import ScopeStack, packages_of

VAR = "DBTEST_SCOPE_STACK_TEST"


class Children:
    """Stands in for ChildWatch: counts accepts."""

    def __init__(self) -> None:
        self.accepted = 0

    def accept(self) -> None:
        self.accepted += 1


class Harness:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.reports: list[tuple[str, str, str | None]] = []
        self.stack = ScopeStack(Children(), self._report)  # type: ignore[arg-type]

    def _report(self, module: str, name: str, outcome: Any, duration: float) -> None:
        self.reports.append((module, name, outcome.message))

    def module(self, name: str, **attrs: Any) -> types.ModuleType:
        module = types.ModuleType(name)
        vars(module).update(attrs)
        self.stack.prepare_module(name)
        self.stack.set_module(module, name)
        return module


@pytest.fixture
def harness() -> Iterator[Harness]:
    made = Harness()
    yield made
    made.stack.close()
    os.environ.pop(VAR, None)


def _function(name: str) -> Target:
    return Target(name, FUNCTION, function=lambda: None)


def _method(cls: type, method: str) -> Target:
    return Target(f"{cls.__name__}::{method}", PLAIN_CLASS, cls=cls, method=method)


def test_names_give_the_path():
    assert packages_of("a.b.test_c") == ["a", "a.b"]
    assert packages_of("test_c") == []
    assert class_path("Outer::Inner::test_x") == "Outer::Inner"
    assert class_path("test_x") == ""
    assert class_path("TestA::test_x[a::b]") == "TestA", "parameter ids may hold '::'"


def test_a_module_s_packages_are_nodes_and_the_session_is_a_root_module_s_package(harness):
    stack = harness.stack
    harness.module("pkg.sub.test_m")
    assert stack.enter(_function("test_x")) is None
    assert [(n.scope, n.key) for n in stack.nodes] == [
        ("session", ""),
        ("package", "pkg"),
        ("package", "pkg.sub"),
        ("module", "pkg.sub.test_m"),
    ]
    assert stack.node("package").key == "pkg.sub"
    assert stack.node("module").key == "pkg.sub.test_m"
    harness.module("pkg.test_other")
    assert [n.key for n in stack.nodes] == ["", "pkg"], "pkg.sub and its module are torn down"
    harness.module("test_root")
    stack.enter(_function("test_y"))
    assert stack.node("package") is stack.nodes[0]
    with pytest.raises(LookupError):
        stack.node("class")


def test_finalizers_run_last_first_and_a_failing_one_is_reported(harness):
    stack = harness.stack
    events = harness.events
    harness.module("test_fin")
    stack.enter(_function("test_x"))
    module = stack.node("module")
    module.addfinalizer(lambda: events.append("first added"))
    module.addfinalizer(lambda: 1 / 0, "broken")
    module.addfinalizer(lambda: events.append("last added"))
    stack.node("session").addfinalizer(lambda: events.append("session"))
    harness.module("test_next")
    assert events == ["last added", "first added"]
    assert harness.reports == [("test_fin", "broken", "ZeroDivisionError: division by zero")]
    stack.close()
    assert events[-1] == "session"


def test_a_failed_set_up_is_remembered_and_not_run_again(harness):
    calls = []

    def setup_module():
        calls.append("setup_module")
        raise RuntimeError("broke")

    class TestInside:
        @classmethod
        def setup_class(cls):
            calls.append("setup_class")

        def test_a(self):
            pass

    harness.module("test_broken", setup_module=setup_module)
    stack = harness.stack
    first = stack.enter(_function("test_x"))
    second = stack.enter(_method(TestInside, "test_a"))
    assert first is not None and first.message == "RuntimeError: broke"
    assert second is first
    assert calls == ["setup_module"], "nothing is set up under a broken scope"


def test_the_next_test_decides_whether_the_class_is_torn_down(harness):
    events = harness.events

    class TestA:
        @classmethod
        def setup_class(cls):
            events.append("setup A")

        @classmethod
        def teardown_class(cls):
            events.append("teardown A")

        def test_1(self):
            pass

        def test_2(self):
            pass

    stack = harness.stack
    harness.module("test_classes")
    stack.enter(_method(TestA, "test_1"))
    stack.next_test("TestA::test_2")
    stack.enter(_method(TestA, "test_2"))
    stack.next_test("test_function")
    assert events == ["setup A", "teardown A"]
    stack.enter(_method(TestA, "test_1"))
    stack.next_test(None)
    assert events == ["setup A", "teardown A", "setup A", "teardown A"], "the batch's end closes the class"
    assert stack.klass is None and stack.module is not None, "the module stays for the next batch"


def test_each_scope_restores_its_own_state(harness):
    from dbtest.worker.isolation import restore

    class TestA:
        @classmethod
        def setup_class(cls):
            os.environ[VAR] = "class"

        def test_1(self):
            pass

    def setup_module():
        os.environ[VAR] = "module"

    stack = harness.stack
    harness.module("test_state", setup_module=setup_module)
    stack.enter(_function("test_x"))
    os.environ[VAR] = "changed by a test"
    restore(stack.snapshot)
    assert os.environ[VAR] == "module"
    stack.enter(_method(TestA, "test_1"))
    os.environ[VAR] = "changed by a test"
    restore(stack.snapshot)
    assert os.environ[VAR] == "class"
    stack.next_test(None)
    assert os.environ[VAR] == "module", "the class's own change is undone with it"
    harness.module("test_other")
    assert VAR not in os.environ, "the module's own change is undone with it"


def test_an_import_s_changes_belong_to_every_scope(harness):
    def setup_module():
        os.environ[VAR + "_MODULE"] = "1"

    stack = harness.stack
    harness.module("test_first", setup_module=setup_module)
    stack.enter(_function("test_x"))
    try:
        harness.stack.prepare_module("test_second")
        assert VAR + "_MODULE" not in os.environ
        os.environ[VAR] = "from an import"
        stack.absorb()
        stack.set_module(types.ModuleType("test_second"), "test_second")
        stack.enter(_function("test_y"))
        harness.module("test_third")
        assert os.environ.get(VAR) == "from an import"
    finally:
        os.environ.pop(VAR + "_MODULE", None)


def test_the_function_node_gives_the_test_its_teardown_error(harness):
    stack = harness.stack
    harness.module("test_fn")
    stack.enter(_function("test_x"))
    events = harness.events
    node = stack.node("function")
    node.addfinalizer(lambda: events.append("first"))
    node.addfinalizer(lambda: 1 / 0)
    failure = stack.finish_function()
    assert failure is not None and (failure.outcome, failure.phase) == ("error", "teardown")
    assert events == ["first"]
    assert stack.function is None


def test_a_module_and_a_package_of_the_same_name_are_different_nodes(harness):
    stack = harness.stack
    harness.module("tests")
    stack.enter(_function("test_x"))
    harness.module("tests.test_y")
    stack.enter(_function("test_y"))
    assert [(n.scope, n.key) for n in stack.nodes] == [
        ("session", ""),
        ("package", "tests"),
        ("module", "tests.test_y"),
    ]
