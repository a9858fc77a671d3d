"""pytest's skip and xfail marks, honoured at run time.

Suites written for pytest use ``@pytest.mark.skip``, ``skipif`` and ``xfail`` on
functions, classes and modules (``pytestmark``), unittest-style classes
included. The static collector already reports literal ``skip`` marks; the
conditions need the module, so they are evaluated here, before the test's
set-up, as pytest does. ``strict`` is what the mark says, else pytest's
``xfail_strict`` setting.

A test's marks, in the order pytest's ``iter_markers`` gives them (closest
first): the function's own (its closest decorator first), a parametrized
case's (``pytest.param(..., marks=...)``), its classes' (innermost first,
each with its bases' before its own), its module's ``pytestmark``.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from . import options
from .outcomes import CALL, ERROR, FAILED, PASSED, XFAILED, XPASSED, Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def pytest_marks(obj: Any) -> list[Any]:
    """The marks pytest keeps on an object: a list, or a single mark
    (``pytestmark = pytest.mark.slow`` at module level), each as a ``Mark``."""
    marks = getattr(obj, "pytestmark", None)
    if marks is None:
        return []
    marks = marks if isinstance(marks, (list, tuple)) else [marks]
    # A `MarkDecorator` (what `pytest.mark.x` is) holds its `Mark`.
    return [getattr(m, "mark", m) for m in marks]


def _class_marks(cls: type) -> list[Any]:
    """A class's marks as pytest reads them: its bases' first, then its own."""
    marks: list[Any] = []
    for klass in reversed(cls.__mro__):
        own = klass.__dict__.get("pytestmark")
        if own is not None:
            own = own if isinstance(own, (list, tuple)) else [own]
            marks.extend(getattr(m, "mark", m) for m in own)
    return marks


def marks_in_order(module: Any, classes: list[type] | tuple[type, ...], function: Any) -> list[Any]:
    """Every mark that applies to a test (a parametrized case's aside), closest first."""
    marks = pytest_marks(function)
    for cls in reversed(classes):
        marks.extend(_class_marks(cls))
    marks.extend(pytest_marks(module))
    return marks


def _condition_holds(condition: Any, module: ModuleType) -> bool:
    if isinstance(condition, str):
        import platform  # costs milliseconds; string conditions are rare

        namespace = {"os": os, "sys": sys, "platform": platform, "config": None}
        namespace.update(vars(module))
        return bool(eval(condition, namespace))  # noqa: S307 - pytest's documented skipif semantics
    return bool(condition)


def _arguments(mark: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return getattr(mark, "args", ()) or (), getattr(mark, "kwargs", {}) or {}


class Xfail:
    """An applicable ``xfail`` mark: the test is expected to fail."""

    __slots__ = ("raises", "reason", "run", "strict")

    def __init__(self, reason: str, run: bool, strict: bool, raises: type | tuple[type, ...] | None) -> None:
        self.reason = reason
        self.run = run
        self.strict = strict
        self.raises = raises


def mark_verdict(marks: list[Any], module: ModuleType) -> tuple[str | None, Xfail | None]:
    """What a test's marks (closest first) say before it runs: why it is skipped
    (skip marks win, as in pytest), else the ``xfail`` mark that applies, if any.

    Raises what evaluating a string condition raises (the test then errors, as
    under pytest)."""
    if not marks:
        return None, None
    reason = _skip_reason(marks, module)
    return (reason, None) if reason is not None else (None, _xfail(marks, module))


def _skip_reason(marks: list[Any], module: ModuleType) -> str | None:
    for mark in marks:
        name = getattr(mark, "name", None)
        if name not in ("skip", "skipif"):
            continue
        args, kwargs = _arguments(mark)
        if name == "skip":
            return kwargs.get("reason") or (args[0] if args else "unconditional skip")
        for condition in args or (kwargs.get("condition", True),):
            if _condition_holds(condition, module):
                reason = kwargs.get("reason")
                return reason or (f"condition: {condition}" if isinstance(condition, str) else "skipif")
    return None


def _xfail(marks: list[Any], module: ModuleType) -> Xfail | None:
    """The first ``xfail`` mark whose conditions hold (or that has none)."""
    for mark in marks:
        if getattr(mark, "name", None) != "xfail":
            continue
        args, kwargs = _arguments(mark)
        conditions = args if args else ((kwargs["condition"],) if "condition" in kwargs else ())
        if conditions and not any(_condition_holds(c, module) for c in conditions):
            continue
        reason = kwargs.get("reason") or ""
        if not reason and conditions and isinstance(conditions[0], str):
            reason = f"condition: {conditions[0]}"
        strict = bool(kwargs.get("strict", options.current.xfail_strict))
        return Xfail(reason, bool(kwargs.get("run", True)), strict, kwargs.get("raises"))
    return None


def expected_to_fail(outcome: Outcome, xfail: Xfail) -> Outcome:
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
