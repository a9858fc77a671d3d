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


def skip_reason(module: ModuleType, owner: Any, function: Any) -> str | None:
    """Why the test should be skipped, per its pytest marks, or None.

    Raises what evaluating a string condition raises (the test then errors, as
    under pytest)."""
    for mark in _marks_of(module, owner, function):
        name = getattr(mark, "name", None)
        if name not in ("skip", "skipif"):
            continue
        args = getattr(mark, "args", ()) or ()
        kwargs = getattr(mark, "kwargs", {}) or {}
        if name == "skip":
            return kwargs.get("reason") or (args[0] if args else "unconditional skip")
        conditions = args or (kwargs.get("condition", True),)
        for condition in conditions:
            if _condition_holds(condition, module):
                reason = kwargs.get("reason")
                return reason or (f"condition: {condition}" if isinstance(condition, str) else "skipif")
    return None


class Xfail:
    """An applicable ``xfail`` mark: the test is expected to fail."""

    __slots__ = ("raises", "reason", "run", "strict")

    def __init__(self, reason: str, run: bool, strict: bool, raises: type | tuple[type, ...] | None) -> None:
        self.reason = reason
        self.run = run
        self.strict = strict
        self.raises = raises


def xfail_mark(module: ModuleType, owner: Any, function: Any) -> Xfail | None:
    """The first ``xfail`` mark whose conditions hold (or that has none), or None.

    Raises what evaluating a string condition raises."""
    for mark in _marks_of(module, owner, function):
        if getattr(mark, "name", None) != "xfail":
            continue
        args = getattr(mark, "args", ()) or ()
        kwargs = getattr(mark, "kwargs", {}) or {}
        conditions = args if args else ((kwargs["condition"],) if "condition" in kwargs else ())
        if conditions and not any(_condition_holds(c, module) for c in conditions):
            continue
        reason = kwargs.get("reason") or ""
        if not reason and conditions and isinstance(conditions[0], str):
            reason = f"condition: {conditions[0]}"
        return Xfail(reason, bool(kwargs.get("run", True)), bool(kwargs.get("strict", False)), kwargs.get("raises"))
    return None
