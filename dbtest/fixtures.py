"""``dbtest.fixture``: pytest's ``@pytest.fixture`` for projects without pytest.

A function decorated with it is a fixture exactly as one decorated with
``@pytest.fixture`` is (same arguments, same meaning): dbtest's worker reads
both. The decorated function is returned unchanged, marked with a
``__dbtest_fixture__`` attribute (`FixtureSpec`), so it can still be called
directly in helper code, which pytest forbids but nothing here needs to.
"""

from __future__ import annotations

# typing costs milliseconds, and workers import this module (the built-in
# fixtures are declared with it): only type checkers need these names.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, TypeVar, overload

    F = TypeVar("F", bound=Callable[..., Any])

SCOPES = ("session", "package", "module", "class", "function")


class FixtureSpec:
    """What ``@fixture(...)`` says of a fixture."""

    __slots__ = ("autouse", "ids", "name", "params", "scope")

    def __init__(
        self,
        scope: str | Callable[..., str],
        params: Sequence[Any] | None,
        autouse: bool,
        ids: Sequence[Any] | Callable[[Any], Any] | None,
        name: str | None,
    ) -> None:
        if isinstance(scope, str) and scope not in SCOPES:
            raise ValueError(f"fixture scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        self.scope = scope
        self.params = list(params) if params is not None else None
        self.autouse = autouse
        self.ids = ids if ids is None or callable(ids) else list(ids)
        self.name = name


if TYPE_CHECKING:

    @overload
    def fixture(function: F) -> F: ...
    @overload
    def fixture(
        *,
        scope: str | Callable[..., str] = "function",
        params: Iterable[Any] | None = None,
        autouse: bool = False,
        ids: Sequence[Any] | Callable[[Any], Any] | None = None,
        name: str | None = None,
    ) -> Callable[[F], F]: ...


def fixture(
    function: F | None = None,
    *,
    scope: str | Callable[..., str] = "function",
    params: Iterable[Any] | None = None,
    autouse: bool = False,
    ids: Sequence[Any] | Callable[[Any], Any] | None = None,
    name: str | None = None,
) -> Any:
    """Declares a fixture, bare (``@fixture``) or with arguments (``@fixture(scope="module")``)."""
    spec = FixtureSpec(scope, list(params) if params is not None else None, autouse, ids, name)

    def mark(target: F) -> F:
        target.__dbtest_fixture__ = spec  # type: ignore[attr-defined]
        return target

    if function is not None:
        return mark(function)
    return mark
