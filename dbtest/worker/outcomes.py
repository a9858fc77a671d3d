"""Turning what a test raised into an outcome, a one-line message and a traceback."""

from __future__ import annotations

import collections
import os
import sys
from types import FrameType, TracebackType

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
_STDLIB_DIR = os.path.dirname(os.__file__)
# importlib's own frames sit under every import error.
_IMPORTLIB_DIR = os.path.join(_STDLIB_DIR, "importlib", "")
# What runs a test before the test's own code does: asyncio's runner and event
# loop (async tests), unittest's (IsolatedAsyncioTestCase, whose module is not
# marked `__unittest`). Cut from the top of a traceback, as pytest cuts a
# traceback at the test function; where the test calls them, they stay.
_RUNNER_DIRS = (os.path.join(_STDLIB_DIR, "asyncio", ""), os.path.join(_STDLIB_DIR, "unittest", ""))


# A namedtuple rather than typing.NamedTuple: typing is not loaded in workers.
Outcome = collections.namedtuple(
    "Outcome", ["outcome", "phase", "error_kind", "message", "traceback", "raised"], defaults=(None, None, None, None)
)
Outcome.__doc__ = (
    "What became of a test: outcome, phase, error kind, one-line message, traceback, and the type of what it raised."
)


PASS = Outcome(PASSED, CALL)


def _is_hidden(frame_globals: dict, filename: str) -> bool:
    # Frames of dbtest itself, of importlib and of unittest's machinery say
    # nothing about the test.
    return (
        filename.startswith(_PACKAGE_DIR)
        or filename.startswith(_IMPORTLIB_DIR)
        or filename.startswith("<frozen importlib")
        or "__unittest" in frame_globals
    )


def _visible_frames(tb: TracebackType | None) -> list[tuple[FrameType, int]]:
    frames = []
    while tb is not None:
        frame = tb.tb_frame
        if not _is_hidden(frame.f_globals, frame.f_code.co_filename):
            frames.append((frame, tb.tb_lineno))
        tb = tb.tb_next
    start = 0
    while start < len(frames) and frames[start][0].f_code.co_filename.startswith(_RUNNER_DIRS):
        start += 1
    # Nothing but the runner's frames (it failed by itself): show them.
    return frames[start:] if start < len(frames) else frames


def unimported_submodule(exc: BaseException) -> str | None:
    """For ``module 'a.b' has no attribute 'c'`` where ``a.b.c`` is a module
    that is not imported: its name. Under pytest every test module is imported
    before any test runs, so another one may have imported it (found without
    importing it)."""
    if type(exc) is not AttributeError:
        return None
    owner, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    owner_name = getattr(owner, "__name__", None)
    if not isinstance(name, str) or not isinstance(owner_name, str) or not hasattr(owner, "__path__"):
        return None
    full = f"{owner_name}.{name}"
    if full in sys.modules:
        return None
    try:
        import importlib.util

        return full if importlib.util.find_spec(full) is not None else None
    except (ImportError, ValueError, AttributeError):
        return None


# The submodules the failures formatted since the last `take_unimported` named.
_unimported: list[str] = []


def take_unimported() -> list[str]:
    """The submodules named by `_import_note` since the last call."""
    names = _unimported[:]
    _unimported.clear()
    return names


def _import_note(exc: BaseException) -> str:
    module = unimported_submodule(exc)
    if module is None:
        return ""
    _unimported.append(module)
    return f"note: {module} is a module nothing had imported when this test ran: import it where it is used\n"


def format_exception(exc: BaseException) -> tuple[str, str]:
    """(one-line message, traceback text without dbtest's or unittest's own frames)."""
    import traceback

    report = traceback.TracebackException.from_exception(exc)
    # Rebuild each stack (of the exception and of its causes) from the visible
    # frames only, as unittest and pytest do.
    seen: set[int] = set()
    current: Any = report
    error: BaseException | None = exc
    while current is not None and error is not None and id(current) not in seen:
        seen.add(id(current))
        current.stack = traceback.StackSummary.extract(iter(_visible_frames(error.__traceback__)), capture_locals=False)
        if current.__cause__ is not None:
            current, error = current.__cause__, error.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            current, error = current.__context__, error.__context__
        else:
            break
    text = "".join(report.format()) + _import_note(exc)
    only = list(report.format_exception_only())
    message = only[-1].strip() if only else type(exc).__name__
    # A multi-line message: its first line is the summary.
    first = message.splitlines()[0] if message else type(exc).__name__
    return first, text


def _pytest_outcome(exc: BaseException) -> str | None:
    # By class, not by name or module: pytest presents its outcome classes as
    # `builtins.Skipped` and so on.
    outcomes = sys.modules.get("_pytest.outcomes")
    if outcomes is None or not isinstance(exc, outcomes.OutcomeException):
        return None
    if isinstance(exc, outcomes.Skipped):
        return SKIPPED
    if isinstance(exc, outcomes.XFailed):  # a kind of Failed
        return XFAILED
    if isinstance(exc, outcomes.Failed):
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
    # As pytest counts them: whatever the test itself raises fails it; an
    # exception in its set-up or teardown is an error.
    if pytest_kind == FAILED or phase == CALL:
        return Outcome(FAILED, phase, None, message, text, type(exc))
    return Outcome(ERROR, phase, "exception", message, text, type(exc))


def teardown_error(exc: BaseException) -> Outcome:
    """A teardown that raised makes the test an error, whatever it raised."""
    outcome = from_exception(exc, TEARDOWN)
    if outcome.outcome == FAILED:
        outcome = outcome._replace(outcome=ERROR, error_kind="exception")
    return outcome
