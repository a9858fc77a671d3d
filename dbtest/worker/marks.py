"""pytest's skip and xfail marks, honoured at run time.

Suites written for pytest use ``@pytest.mark.skip``, ``skipif`` and ``xfail`` on
functions, classes and modules (``pytestmark``), unittest-style classes
included. The static collector already reports literal ``skip`` marks; the
conditions need the module, so they are evaluated here, before the test's
set-up, as pytest does. ``xfail_strict`` from pytest's configuration is not
read: ``strict`` is what the mark says, else false. Other marks
(``parametrize``, ``usefixtures``) belong to the pytest-compatibility layer and
are not interpreted yet.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from .outcomes import CALL, ERROR, FAILED, PASSED, XFAILED, XPASSED, Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def pytest_marks(obj: Any) -> list[Any]:
    """The marks pytest keeps on an object: a list, or a single mark
    (``pytestmark = pytest.mark.slow`` at module level)."""
    marks = getattr(obj, "pytestmark", None)
    if marks is None:
        return []
    return list(marks) if isinstance(marks, (list, tuple)) else [marks]


def _condition_holds(condition: Any, module: ModuleType) -> bool:
    if isinstance(condition, str):
        import platform  # costs milliseconds; string conditions are rare

        namespace = {"os": os, "sys": sys, "platform": platform, "config": None}
        namespace.update(vars(module))
        return bool(eval(condition, namespace))  # noqa: S307 - pytest's documented skipif semantics
    return bool(condition)


def _marks_of(module: ModuleType, owner: Any, function: Any) -> tuple[Any, ...]:
    # Closest first: the function's, its class's, the module's.
    return (*pytest_marks(function), *pytest_marks(owner), *pytest_marks(module))


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


def mark_verdict(module: ModuleType, owner: Any, function: Any) -> tuple[str | None, Xfail | None]:
    """What the test's pytest marks say before it runs: why it is skipped (skip
    marks win, as in pytest), else the ``xfail`` mark that applies, if any.

    Raises what evaluating a string condition raises (the test then errors, as
    under pytest)."""
    marks = _marks_of(module, owner, function)
    if not marks:
        return None, None
    reason = _skip_reason(marks, module)
    return (reason, None) if reason is not None else (None, _xfail(marks, module))


def _skip_reason(marks: tuple[Any, ...], module: ModuleType) -> str | None:
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


def _xfail(marks: tuple[Any, ...], module: ModuleType) -> Xfail | None:
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
        return Xfail(reason, bool(kwargs.get("run", True)), bool(kwargs.get("strict", False)), kwargs.get("raises"))
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
