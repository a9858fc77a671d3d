"""dbtest-style test suites: ``TestSuite`` classes and the ``@test`` decorator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TestInfo:
    """What ``@test(...)`` says about a test."""

    timeout: float | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    skip: str | bool | None = None


@overload
def test(func: F) -> F: ...
@overload
def test(
    *, timeout: float | None = None, tags: list[str] | tuple[str, ...] = (), skip: str | bool | None = None
) -> Callable[[F], F]: ...


def test(
    func: F | None = None,
    *,
    timeout: float | None = None,
    tags: list[str] | tuple[str, ...] = (),
    skip: str | bool | None = None,
) -> Any:
    """Marks a method of a :class:`TestSuite` (or a function) as a test.

    Usable bare (``@test``) or with arguments (``@test(timeout=5, tags=["fast"])``).
    """
    info = TestInfo(timeout=timeout, tags=tuple(tags), skip=skip)

    def mark(target: F) -> F:
        target.__dbtest_test__ = info  # type: ignore[attr-defined]
        return target

    if func is not None:
        return mark(func)
    return mark


# `from dbtest import test` puts this function into test modules; it is not a test.
test.__test__ = False  # type: ignore[attr-defined]


class TestSuite:
    """A group of tests sharing set-up.

    ``setup_suite``/``teardown_suite`` run once per suite (on the worker that runs
    it), ``setup``/``teardown`` around each test; each may be sync or async. One
    instance serves the whole suite, so state set in ``setup_suite`` is visible to
    every test.
    """

    __test__ = False  # the base class itself holds no tests

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True

    def setup_suite(self) -> Any:
        """Runs once before the suite's first test."""

    def teardown_suite(self) -> Any:
        """Runs once after the suite's last test, whenever ``setup_suite`` ran."""

    def setup(self) -> Any:
        """Runs before each test."""

    def teardown(self) -> Any:
        """Runs after each test, even when it failed."""
