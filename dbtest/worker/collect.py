"""Run-time collection: the tests a module really defines.

Mirrors the static collector (`rust/collect`): functions and plain classes whose
names pytest's ``python_functions``/``python_classes`` accept (``test``/``Test``
by default, or ``__test__ = True``), every ``unittest.TestCase`` subclass,
dbtest ``TestSuite`` subclasses; a fixture is never a test; a parametrized test
is its cases (`parametrize`). Used to find tests the static pass could not see
and to resolve the names the coordinator sends.
"""

from __future__ import annotations

import sys
from types import FunctionType, ModuleType

from . import options
from .engine import TestPlan, engine
from .marks import marks_in_order, pytest_marks
from .names import TestName
from .ordering import reorder
from .outcomes import ERROR, SETUP, Outcome
from .parametrize import Case, ParametrizeError

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


FUNCTION = "function"
PLAIN_CLASS = "plain_class"
TESTCASE = "testcase"
SUITE = "suite"


class Target:
    """A resolved test: what to call and how, with what, under which marks."""

    __slots__ = ("case", "cls", "function", "item", "marks", "method", "name", "plan", "problem", "style")

    def __init__(
        self,
        name: str,
        style: str,
        function: Callable[..., Any] | None = None,
        cls: type | None = None,
        method: str | None = None,
    ) -> None:
        self.name = name
        self.style = style
        self.function = function
        self.cls = cls
        self.method = method
        # A parametrized case: its arguments and marks.
        self.case: Case | None = None
        # Its fixtures (None: it takes none, nothing autouse applies).
        self.plan: TestPlan | None = None
        # pytest's item for it (`request.node`), made when fixtures or hooks need one.
        self.item: Any = None
        # Every mark that applies, closest first (the function's, its case's,
        # its classes', its module's).
        self.marks: list[Any] = []
        # Why the test cannot run (reported as its error instead).
        self.problem: Outcome | None = None


def _is_test_flagged_off(obj: Any) -> bool:
    return getattr(obj, "__test__", True) is False


def is_fixture(obj: Any) -> bool:
    """A function decorated with ``@pytest.fixture`` (or ``dbtest.fixture``): never a test."""
    return (
        type(obj).__name__ == "FixtureFunctionDefinition"
        or getattr(obj, "_fixture_function_marker", None) is not None
        or getattr(obj, "_pytestfixturefunction", None) is not None
        or getattr(obj, "__dbtest_fixture__", None) is not None
    )


def class_style(cls: type) -> str | None:
    """How a class in a test module is run, or None if it is not a test class."""
    unittest = sys.modules.get("unittest")
    if unittest is not None and issubclass(cls, unittest.TestCase):
        return TESTCASE
    suite = sys.modules.get("dbtest.suite")
    if suite is not None and issubclass(cls, suite.TestSuite):
        return SUITE if cls is not suite.TestSuite else None
    named = options.current.is_test_class(cls.__name__) or getattr(cls, "__test__", None) is True
    if named and cls.__init__ is object.__init__:
        return PLAIN_CLASS
    return None


def _class_test_names(cls: type, style: str) -> list[str]:
    if style == TESTCASE:
        import unittest

        names = list(unittest.TestLoader().getTestCaseNames(cls))
        # No test* methods but `runTest`: that is the one test (unittest and pytest agree).
        if not names and callable(getattr(cls, "runTest", None)):
            names = ["runTest"]
        return names
    rules = options.current
    # Per class of the MRO, its own names in definition order.
    by_class: list[list[str]] = []
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        names: list[str] = []
        by_class.append(names)
        for name, value in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if not callable(func) or isinstance(func, type) or is_fixture(func):
                continue
            if style == SUITE:
                if name.startswith("test") or getattr(func, "__dbtest_test__", None) is not None:
                    names.append(name)
            elif rules.is_test_function(name) and not _is_test_flagged_off(func):
                names.append(name)
    # pytest's order: what base classes define comes before what subclasses
    # add (reverse MRO), each class's in definition order.
    return [name for names in reversed(by_class) for name in names]


def _tags(marks: list[Any]) -> list[str]:
    tags: list[str] = []
    for mark in marks:
        name = getattr(mark, "name", None)
        if isinstance(name, str) and name not in tags:
            tags.append(name)
    return tags


def _dbtest_tags(obj: Any) -> list[str]:
    info = getattr(obj, "__dbtest_test__", None)
    return list(getattr(info, "tags", None) or ())


# A test found: (name, tags), its case if parametrized, its class if any.
Found = list[tuple[tuple[str, list[str]], "Case | None", "type | None"]]


def module_tests(module: ModuleType) -> list[tuple[str, list[str]]]:
    """Every test in ``module`` as (name, tags), with parametrized tests
    expanded into their cases, in the order pytest runs them: definition order,
    with the cases sharing a parameter of broader scope together (`ordering`)."""
    if _is_test_flagged_off(module):
        return []
    found: Found = []
    rules = options.current
    for name, obj in list(vars(module).items()):
        if isinstance(obj, type):
            _collect_class(module, [obj], name, found)
        elif (
            isinstance(obj, FunctionType)
            and (rules.is_test_function(name) or getattr(obj, "__test__", None) is True)
            and not _is_test_flagged_off(obj)
            and not is_fixture(obj)
        ):
            _add_function(module, [], None, name, obj, found)
    if "dbtest.bench.api" in sys.modules:
        # Benchmark groups the module made: each member is a test of plain runs.
        from dbtest.bench.api import groups_of

        for group in groups_of(module.__name__):
            found.extend(((member.full_name, []), None, None) for member in group.members)
    return reorder(found)


def _add_function(
    module: ModuleType,
    classes: list[type],
    qualname: str | None,
    name: str,
    function: Any,
    found: Found,
) -> None:
    full = f"{qualname}::{name}" if qualname else name
    marks = marks_in_order(module, classes, function)
    extra = _dbtest_tags(function)
    cases = _cases(module, classes, name, function, marks)
    cls = classes[-1] if classes else None
    if isinstance(cases, dict) and cases:
        for case in cases.values():
            found.append(((f"{full}[{case.id}]", _merge(_tags(marks + case.marks), extra)), case, cls))
    else:
        found.append(((full, _merge(_tags(marks), extra)), None, cls))


def _merge(a: list[str], b: list[str]) -> list[str]:
    return a + [t for t in b if t not in a]


def _collect_class(module: ModuleType, classes: list[type], qualname: str, found: Found) -> None:
    cls = classes[-1]
    style = class_style(cls)
    if style is None or _is_test_flagged_off(cls):
        return
    for method in _class_test_names(cls, style):
        function = getattr(cls, method, None)
        if style == PLAIN_CLASS:
            _add_function(module, classes, qualname, method, function, found)
        else:
            tags = _tags(marks_in_order(module, classes, function)) + _dbtest_tags(function)
            found.append(((f"{qualname}::{method}", tags), None, cls))
    if style == PLAIN_CLASS:
        for name, inner in vars(cls).items():
            if isinstance(inner, type) and name.startswith("Test"):
                _collect_class(module, [*classes, inner], f"{qualname}::{name}", found)


def _plan(module: ModuleType, classes: list[type], name: str, function: Any, marks: list[Any]) -> TestPlan | None:
    """What collection says of a test function (its fixtures, its cases),
    worked out once per function; None for a test that needs nothing but a call."""
    owner = classes[-1] if classes else module
    key = (owner, name)
    if key in _plans:
        return _plans[key]
    the_engine = engine()
    plan = None
    if the_engine.needs_plan(module, classes, function, marks):
        is_method = bool(classes) and not _is_static(owner, name)
        plan = the_engine.plan(module, classes, name, function, marks, is_method)
    _plans[key] = plan
    return plan


# Plans by (owner, name): a module's functions and classes live as long as the worker.
_plans: dict[tuple[Any, str], TestPlan | None] = {}


def _cases(
    module: ModuleType, classes: list[type], name: str, function: Any, marks: list[Any]
) -> dict[str, Case] | ParametrizeError:
    """The cases of a test by id (empty when it is not parametrized), or why it has none."""
    plan = _plan(module, classes, name, function, marks)
    if plan is None:
        return {}
    return ParametrizeError(plan.error) if plan.error is not None else plan.cases


def _is_static(cls: Any, name: str) -> bool:
    import inspect

    return isinstance(inspect.getattr_static(cls, name, None), staticmethod)


def resolve(module: ModuleType, name: str) -> Target | None:
    """The test called ``name`` (``func``, ``Class::method``, ``func[case]``)
    in ``module``, or None if the module does not define it."""
    if "dbtest.bench.api" in sys.modules:
        # A benchmark (``group::member``): plain runs call it once, as a smoke test.
        from dbtest.bench.api import resolve as resolve_benchmark
        from dbtest.bench.api import smoke

        members = resolve_benchmark(module.__name__, name)
        if members:
            return Target(name=name, style=FUNCTION, function=smoke(members))
    test_name = TestName(name)
    classes: list[type] = []
    owner: Any = module
    for part in test_name.classes:
        owner = getattr(owner, part, None)
        if not isinstance(owner, type):
            return None
        classes.append(owner)
    function = getattr(owner, test_name.function, None)
    if function is None or not callable(function):
        return None
    if classes:
        style = class_style(owner)
        if style is None:
            return None
        target = Target(name=name, style=style, cls=owner, method=test_name.function)
    else:
        target = Target(name=name, style=FUNCTION, function=function)
    marks = marks_in_order(module, classes, function)
    target.marks = marks
    if target.style == SUITE:
        return target  # dbtest suites take no fixtures
    plan = _plan(module, classes, test_name.function, function, marks)
    if plan is None:
        return None if test_name.params is not None else target
    if plan.error is not None:
        target.problem = Outcome(ERROR, SETUP, "exception", plan.error)
        return target
    if test_name.params is not None:
        case = plan.cases.get(test_name.params)
        if case is None:
            return None
        target.case = case
        # The function's own marks, then its case's, then its classes' and module's.
        own = len(pytest_marks(function))
        target.marks = marks[:own] + case.marks + marks[own:]
    elif plan.cases:
        return None  # parametrized: only its cases are tests
    if plan.closure.names or plan.argnames:
        target.plan = plan
    return target
