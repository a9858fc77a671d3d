"""``subtests``: pytest 9's fixture for blocks that pass or fail on their own.

A block that raises is reported as a result of its own, named after the test
and the block's description (``[msg] (key=value, ...)``, pytest's), and the
test goes on. The fixture counts on the test's node (``subtests_passed``,
``subtest_failures``, as `dbtest.worker.testcase` counts unittest's
``subTest``); `verdict` then fails a passing test that holds failed blocks, as
pytest 9 does.
"""

from __future__ import annotations

import sys

from ..outcomes import CALL, ERROR, FAILED, PASSED, Outcome, from_exception

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# pytest's longest repr of a value in a description.
MAX_REPR = 240


def _ellipsize(s: str, maxsize: int) -> str:
    if len(s) > maxsize:
        i = max(0, (maxsize - 3) // 2)
        j = max(0, maxsize - 3 - i)
        return s[:i] + "..." + s[len(s) - j :]
    return s


def _repr_failed(exc: BaseException, obj: object) -> str:
    try:
        info = repr(exc)
    except Exception:
        info = f'{type(exc).__name__}("{exc}")'
    return f"<[{info} raised in repr()] {type(obj).__name__} object at 0x{id(obj):x}>"


_safe_repr: Any = None


def saferepr(obj: object) -> str:
    """pytest's ``saferepr``: reprlib's limits (6 items of a list, 4 of a dict,
    6 levels), 240 characters at most, and no exception from a broken ``__repr__``."""
    global _safe_repr
    if _safe_repr is None:
        import reprlib
        from itertools import islice

        class SafeRepr(reprlib.Repr):
            def __init__(self) -> None:
                super().__init__()
                self.maxstring = MAX_REPR

            def repr(self, x: object) -> str:
                try:
                    s = super().repr(x)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:
                    s = _repr_failed(exc, x)
                return _ellipsize(s, MAX_REPR)

            def repr_instance(self, x: object, level: int) -> str:
                try:
                    s = repr(x)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:
                    s = _repr_failed(exc, x)
                return _ellipsize(s, MAX_REPR)

            def repr_dict(self, x: dict[object, object], level: int) -> str:
                # In insertion order (reprlib sorts).
                n = len(x)
                if n == 0:
                    return "{}"
                if level <= 0:
                    return "{...}"
                pieces = []
                for key in islice(x, self.maxdict):
                    pieces.append(f"{self.repr1(key, level - 1)}: {self.repr1(x[key], level - 1)}")
                if n > self.maxdict:
                    pieces.append("...")
                return "{" + ", ".join(pieces) + "}"

        _safe_repr = SafeRepr()
    return _safe_repr.repr(obj)


def description(msg: str | None, kwargs: dict[str, Any]) -> str:
    """How pytest 9 names a subtest: ``[msg] (key=value, ...)``, or ``(<subtest>)``."""
    parts = []
    if msg is not None:
        parts.append(f"[{msg}]")
    if kwargs:
        parts.append("(" + ", ".join(f"{k}={saferepr(v)}" for k, v in kwargs.items()) + ")")
    return " ".join(parts) or "(<subtest>)"


def _propagates(exc: BaseException) -> bool:
    # As pytest: an interrupt and pytest.exit() end the run, not the block.
    if isinstance(exc, KeyboardInterrupt):
        return True
    outcomes = sys.modules.get("_pytest.outcomes")
    exit_class = getattr(outcomes, "Exit", None)
    return exit_class is not None and isinstance(exc, exit_class)


class SubtestContext:
    """One ``with subtests.test(...)`` block."""

    def __init__(self, node: Any, msg: str | None, kwargs: dict[str, Any]) -> None:
        self.node = node
        self.msg = msg
        self.kwargs = kwargs

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        node = self.node
        if exc is None:
            node.subtests_passed += 1
            return False
        if _propagates(exc):
            return False
        outcome = from_exception(exc, CALL)
        node.subtest_failures.append((description(self.msg, self.kwargs), outcome))
        return True


class Subtests:
    """What the ``subtests`` fixture returns."""

    def __init__(self, request: Any) -> None:
        self._request = request
        node = request.node
        # The engine provides both; a node without them starts from nothing.
        if not hasattr(node, "subtests_passed"):
            node.subtests_passed = 0
        if not hasattr(node, "subtest_failures"):
            node.subtest_failures = []
        self._node = node

    def test(self, msg: str | None = None, **kwargs: Any) -> SubtestContext:
        """A context manager: an exception raised in its block (an assertion,
        ``pytest.skip``...) is the block's result, and the test goes on."""
        return SubtestContext(self._node, msg, kwargs)


def verdict(outcome: Outcome, failures: list[tuple[str, Outcome]]) -> Outcome:
    """The test's own outcome: a test that passed with failed blocks fails, as in pytest 9."""
    if outcome.outcome != PASSED:
        return outcome
    failed = sum(1 for _, o in failures if o.outcome in (FAILED, ERROR))
    if not failed:
        return outcome
    return Outcome(FAILED, CALL, None, f"contains {failed} failed subtest{'s' if failed > 1 else ''}")
