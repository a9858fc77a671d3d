"""Turning what a test raised into an outcome, a one-line message and a traceback."""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
SKIPPED = "skipped"
XFAILED = "xfailed"
XPASSED = "xpassed"

SETUP = "setup"
CALL = "call"
TEARDOWN = "teardown"
IMPORT = "import"

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Outcome(NamedTuple):
    outcome: str
    phase: str
    error_kind: str | None = None
    message: str | None = None
    traceback: str | None = None


PASS = Outcome(PASSED, CALL)


def _is_hidden(frame_globals: dict, filename: str) -> bool:
    # Frames of dbtest itself and of unittest's machinery say nothing about the test.
    return (
        filename.startswith(_PACKAGE_DIR) or filename.startswith("<frozen importlib") or "__unittest" in frame_globals
    )


def format_exception(exc: BaseException) -> tuple[str, str]:
    """(one-line message, traceback text without dbtest's own frames)."""
    import traceback

    tb = exc.__traceback__
    while tb is not None and _is_hidden(tb.tb_frame.f_globals, tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb)
    text = "".join(lines)
    only = traceback.format_exception_only(type(exc), exc)
    message = only[-1].strip() if only else type(exc).__name__
    # A multi-line assertion message: keep its first line as the summary.
    first = message.splitlines()[0] if message else type(exc).__name__
    return first, text


def _pytest_outcome(exc: BaseException) -> str | None:
    kind = type(exc)
    if kind.__module__ != "_pytest.outcomes":
        return None
    for klass in kind.__mro__:
        if klass.__name__ == "Skipped":
            return SKIPPED
        if klass.__name__ == "XFailed":
            return XFAILED
        if klass.__name__ == "Failed":
            return FAILED
    return ERROR


def _reason(exc: BaseException) -> str:
    msg = getattr(exc, "msg", None)
    if isinstance(msg, str):
        return msg
    return str(exc.args[0]) if exc.args else ""


def from_exception(exc: BaseException, phase: str) -> Outcome:
    """Classifies an exception raised in ``phase`` of a test."""
    unittest = sys.modules.get("unittest")
    if unittest is not None and isinstance(exc, unittest.SkipTest):
        return Outcome(SKIPPED, phase, None, _reason(exc))
    pytest_kind = _pytest_outcome(exc)
    if pytest_kind in (SKIPPED, XFAILED):
        return Outcome(pytest_kind, phase, None, _reason(exc))
    message, text = format_exception(exc)
    if pytest_kind == FAILED or (isinstance(exc, AssertionError) and phase == CALL):
        return Outcome(FAILED, phase, None, message, text)
    return Outcome(ERROR, phase, "exception", message, text)
