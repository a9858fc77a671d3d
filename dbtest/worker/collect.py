"""Run-time collection: the tests a module really defines.

Mirrors the static collector (`rust/collect`): functions and plain classes whose
names start with ``test``/``Test``, every ``unittest.TestCase`` subclass, dbtest
``TestSuite`` subclasses. Used to find tests the static pass could not see and to
resolve the names the coordinator sends.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FunctionType, ModuleType

from .marks import pytest_marks

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


FUNCTION = "function"
PLAIN_CLASS = "plain_class"
TESTCASE = "testcase"
SUITE = "suite"


class Target:
    """A resolved test: what to call and how."""

    __slots__ = ("name", "style", "function", "cls", "method")

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


def _is_test_flagged_off(obj: Any) -> bool:
    return getattr(obj, "__test__", True) is False


def class_style(cls: type) -> str | None:
    """How a class in a test module is run, or None if it is not a test class."""
    unittest = sys.modules.get("unittest")
    if unittest is not None and issubclass(cls, unittest.TestCase):
        return TESTCASE
    suite = sys.modules.get("dbtest.suite")
    if suite is not None and issubclass(cls, suite.TestSuite):
        return SUITE if cls is not suite.TestSuite else None
    if cls.__name__.startswith("Test") and cls.__init__ is object.__init__:
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
    names: list[str] = []
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        for name, value in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if not callable(func) or isinstance(func, type):
                continue
            if name.startswith("test") or (style == SUITE and getattr(func, "__dbtest_test__", None) is not None):
                names.append(name)
    return names


def _marks(obj: Any) -> list[str]:
    tags: list[str] = []
    for mark in pytest_marks(obj):
        name = getattr(mark, "name", None)
        if isinstance(name, str) and name not in tags:
            tags.append(name)
    info = getattr(obj, "__dbtest_test__", None)
    for tag in getattr(info, "tags", None) or ():
        if tag not in tags:
            tags.append(tag)
    return tags


def module_tests(module: ModuleType) -> list[tuple[str, list[str]]]:
    """Every test in ``module`` as (name, tags), in definition order."""
    if _is_test_flagged_off(module):
        return []
    module_tags = _marks(module)
    found: list[tuple[str, list[str]]] = []
    for name, obj in list(vars(module).items()):
        if isinstance(obj, type):
            _collect_class(obj, name, module_tags, found)
        elif name.startswith("test") and isinstance(obj, FunctionType) and not _is_test_flagged_off(obj):
            found.append((name, _merge(_marks(obj), module_tags)))
    return found


def _merge(a: list[str], b: list[str]) -> list[str]:
    return a + [t for t in b if t not in a]


def _collect_class(cls: type, qualname: str, inherited: list[str], found: list[tuple[str, list[str]]]) -> None:
    style = class_style(cls)
    if style is None or _is_test_flagged_off(cls):
        return
    class_tags = _merge(_marks(cls), inherited)
    for method in _class_test_names(cls, style):
        found.append((f"{qualname}::{method}", _merge(_marks(getattr(cls, method, None)), class_tags)))
    if style == PLAIN_CLASS:
        for name, inner in vars(cls).items():
            if isinstance(inner, type) and name.startswith("Test"):
                _collect_class(inner, f"{qualname}::{name}", class_tags, found)


def resolve(module: ModuleType, name: str) -> Target | None:
    """The test called ``name`` (``func`` or ``Class::method``) in ``module``."""
    parts = name.split("::")
    if len(parts) == 1:
        obj = getattr(module, parts[0], None)
        if obj is None or not callable(obj):
            return None
        return Target(name=name, style=FUNCTION, function=obj)
    owner: Any = module
    for part in parts[:-1]:
        owner = getattr(owner, part, None)
        if not isinstance(owner, type):
            return None
    style = class_style(owner)
    if style is None or not callable(getattr(owner, parts[-1], None)):
        return None
    return Target(name=name, style=style, cls=owner, method=parts[-1])
