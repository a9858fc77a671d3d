"""``expect(value)``: fluent assertions whose failures show both values.

(The module is not called ``expect``: a submodule of that name would, once
imported, replace the ``dbtest.expect`` function on the package.)

::

    expect(response.status).to_equal(200)
    expect(names).not_.to_contain("root")
    expect(total).to_be_close_to(0.3)
    error = expect(lambda: parse("")).to_raise(ValueError, match="empty")

A failed expectation raises ``AssertionError`` (so it reads like a failed
``assert``), whose first line reads ``expected <actual> to equal <expected>``
and whose next lines, for containers and long strings, say where the values
differ and show a diff (``-`` expected, ``+`` actual).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from .worker.explain import compare, saferepr

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

# to_be_close_to's `abs` parameter hides the builtin inside it.
_abs = abs

# pytest.approx's defaults, which users of float comparisons already know.
DEFAULT_REL = 1e-6
DEFAULT_ABS = 1e-12

Detail = Callable[[], list[str]]


def expect(value: T) -> Expectation[T]:
    """Starts an expectation about ``value``: ``expect(x).to_equal(y)``."""
    return Expectation(value)


class Expectation(Generic[T]):
    """The matchers. Each returns when it holds and raises ``AssertionError``
    when it does not; ``.not_`` inverts them.

    Every matcher raises from its own frame, so a failure's traceback ends one
    frame below the test rather than deep inside this module."""

    __slots__ = ("value", "negated")

    def __init__(self, value: T, negated: bool = False) -> None:
        self.value = value
        self.negated = negated

    @property
    def not_(self) -> Expectation[T]:
        """The same expectation, negated: ``expect(x).not_.to_be_none()``."""
        return Expectation(self.value, not self.negated)

    def _fails(self, holds: bool) -> bool:
        return holds == self.negated

    def _error(self, claim: str, detail: Detail | None = None) -> AssertionError:
        lines = [f"expected {_describe(self.value)} {'not ' if self.negated else ''}{claim}"]
        if detail is not None:
            lines.extend(f"  {line}" for line in detail())
        return AssertionError("\n".join(lines))

    def _differences(self, op: str, expected: object) -> Detail | None:
        if self.negated:  # "expected 3 not to equal 3" says it all
            return None
        return lambda: compare(op, self.value, expected, left_label="actual", right_label="expected")

    # -- equality and identity ---------------------------------------------------

    def to_equal(self, expected: object) -> None:
        """``value == expected``."""
        if self._fails(bool(self.value == expected)):
            raise self._error(f"to equal {saferepr(expected)}", self._differences("==", expected))

    def to_be(self, expected: object) -> None:
        """``value is expected``: the very same object."""
        if self._fails(self.value is expected):
            raise self._error(f"to be {saferepr(expected)} (the same object)", self._differences("is", expected))

    def to_be_true(self) -> None:
        """``value is True`` (for truthiness: ``expect(bool(x)).to_be_true()``)."""
        if self._fails(self.value is True):
            raise self._error("to be True")

    def to_be_false(self) -> None:
        """``value is False``."""
        if self._fails(self.value is False):
            raise self._error("to be False")

    def to_be_none(self) -> None:
        """``value is None``."""
        if self._fails(self.value is None):
            raise self._error("to be None")

    def to_be_instance_of(self, cls: type | tuple[type, ...]) -> None:
        """``isinstance(value, cls)``."""
        if self._fails(isinstance(self.value, cls)):
            classes = cls if isinstance(cls, tuple) else (cls,)
            names = " or ".join(c.__qualname__ for c in classes)
            raise self._error(f"to be an instance of {names} (its type is {type(self.value).__qualname__})")

    # -- containers --------------------------------------------------------------

    def to_contain(self, item: object) -> None:
        """``item in value``: an element of a container, a substring of a string."""
        container: Any = self.value
        if self._fails(item in container):
            op = "not in" if self.negated else "in"
            raise self._error(f"to contain {saferepr(item)}", lambda: compare(op, item, container))

    def to_have_length(self, length: int) -> None:
        """``len(value) == length``."""
        value: Any = self.value
        actual = len(value)
        if self._fails(actual == length):
            raise self._error(f"to have length {length} (it has length {actual})")

    # -- ordering and numbers ----------------------------------------------------

    def to_be_greater_than(self, other: Any) -> None:
        """``value > other``."""
        value: Any = self.value
        if self._fails(bool(value > other)):
            raise self._error(f"to be greater than {saferepr(other)}")

    def to_be_less_than(self, other: Any) -> None:
        """``value < other``."""
        value: Any = self.value
        if self._fails(bool(value < other)):
            raise self._error(f"to be less than {saferepr(other)}")

    def to_be_close_to(self, expected: Any, *, rel: float | None = None, abs: float | None = None) -> None:
        """``|value - expected| <= max(rel * |expected|, abs)``, as ``pytest.approx``:
        by default ``rel=1e-6`` and ``abs=1e-12``. Giving only ``rel`` (or only
        ``abs``) uses that tolerance alone."""
        if rel is None and abs is None:
            rel, abs = DEFAULT_REL, DEFAULT_ABS
        rel = rel or 0.0
        abs = abs or 0.0
        if rel < 0 or abs < 0:
            raise ValueError("to_be_close_to: tolerances must not be negative")
        value: Any = self.value
        tolerance = max(rel * float(_abs(expected)), abs)
        difference = float(_abs(value - expected))
        # Equal values are close even when infinite (inf - inf is nan).
        if self._fails(bool(value == expected) or difference <= tolerance):
            raise self._error(
                f"to be close to {saferepr(expected)} (within {tolerance:.3g}; the difference is {difference:.3g})"
            )

    # -- strings and exceptions --------------------------------------------------

    def to_match(self, pattern: Any) -> None:
        """``re.search(pattern, value)``: the pattern matches somewhere in the string."""
        import re

        value: Any = self.value
        if self._fails(re.search(pattern, value) is not None):
            shown = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
            raise self._error(f"to match {saferepr(shown)}")

    def to_raise(self, exception: type[E] | tuple[type[E], ...], match: str | None = None) -> E | None:
        """Calls ``value`` (a callable taking no arguments) and expects it to
        raise ``exception`` with a message that ``re.search``-matches ``match``.
        Returns the exception. Negated, the call must not raise a matching
        exception (other exceptions propagate unchanged) and it returns None."""
        function: Any = self.value
        if not callable(function):
            raise TypeError(
                f"expect(...).to_raise() needs a callable such as a lambda, not {saferepr(function)}; "
                "pass the function instead of calling it"
            )
        kinds = exception if isinstance(exception, tuple) else (exception,)
        wanted = " or ".join(k.__qualname__ for k in kinds)
        if match is not None:
            wanted += f" matching {saferepr(match)}"
        try:
            result = function()
        except BaseException as exc:
            matches = isinstance(exc, exception) and (match is None or _search(match, str(exc)))
            if matches and not self.negated:
                return cast(E, exc)
            if not matches and (self.negated or isinstance(exc, KeyboardInterrupt)):
                raise
            raise self._error(f"to raise {wanted}, but it raised {saferepr(exc)}") from exc
        if not self.negated:
            raise self._error(f"to raise {wanted}, but it returned {saferepr(result)}")
        return None


def _describe(value: object) -> str:
    # A function reads better by name than as <function f.<locals>.<lambda> at 0x...>.
    name = getattr(value, "__qualname__", None)
    if callable(value) and isinstance(name, str) and not isinstance(value, type):
        return name
    return saferepr(value)


def _search(pattern: str, text: str) -> bool:
    import re

    return re.search(pattern, text) is not None
