"""Fixtures: dbtest's own engine, reading pytest's fixture definitions.

A fixture is a function decorated with ``@pytest.fixture`` (any pytest from 8
on) or ``@dbtest.fixture``, found in the built-ins (`builtin_fixtures`), in
installed pytest plugins, in every ``conftest.py`` from the rootdir down to the
test's directory, in the test's module and in its classes. Nearer definitions
override farther ones, and a fixture may request the one it overrides (its own
name).

As pytest does: a test's *closure* is its autouse fixtures, its ``usefixtures``
names and its arguments, with everything they request, depth first, then
ordered by scope (session first). Each fixture is set up through the test's
`request.FixtureRequest`; its value is cached on the definition for its scope
(a parametrized fixture per parameter), and its teardown (the rest of a
``yield`` fixture, ``request.addfinalizer``) is a finalizer of the scope
stack's node for its scope, so it runs, in reverse order of set-up, when that
scope ends. A fixture that raised keeps its error: every test of its scope
reports it without running it again.
"""

from __future__ import annotations

import sys

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any


SCOPES = ("session", "package", "module", "class", "function")
SCOPE_RANK = {name: rank for rank, name in enumerate(SCOPES)}


class FixtureLookupError(LookupError):
    """A fixture that is not there, or requested from a scope it cannot serve."""


def fixture_definition(obj: Any) -> tuple[Callable[..., Any], Any] | None:
    """(function, marker) when ``obj`` is a fixture of pytest or dbtest; the
    marker has ``scope``, ``params``, ``autouse``, ``ids`` and ``name``."""
    spec = getattr(obj, "__dbtest_fixture__", None)
    if spec is not None:
        return obj, spec
    marker = getattr(obj, "_fixture_function_marker", None)  # pytest >= 8.4
    if marker is not None:
        get = getattr(obj, "_get_wrapped_function", None)
        return (get() if get is not None else obj), marker
    marker = getattr(obj, "_pytestfixturefunction", None)  # pytest < 8.4
    if marker is not None:
        wrapped = getattr(obj, "__pytest_wrapped__", None)
        return getattr(wrapped, "obj", obj), marker
    return None


class Marker:
    """What ``@fixture(...)`` says, for fixtures dbtest defines itself."""

    __slots__ = ("autouse", "ids", "name", "params", "scope")

    def __init__(self, scope: str = "function", autouse: bool = False) -> None:
        self.scope = scope
        self.autouse = autouse
        self.params = None
        self.ids = None
        self.name = None


class FixtureDef:
    """One definition of a fixture, and the state of its current value."""

    __slots__ = (
        "argnames",
        "autouse",
        "cached",
        "finalizers",
        "func",
        "holder",
        "ids",
        "is_method",
        "name",
        "params",
        "scope_spec",
        "shape",
        "_scope",
    )

    def __init__(self, name: str, func: Callable[..., Any], marker: Any, holder: Any, is_method: bool) -> None:
        self.name = name
        self.func = func
        self.scope_spec = getattr(marker, "scope", "function") or "function"
        self._scope: str | None = self.scope_spec if isinstance(self.scope_spec, str) else None
        params = getattr(marker, "params", None)
        self.params: list[Any] | None = list(params) if params is not None else None
        self.ids = getattr(marker, "ids", None)
        self.autouse: bool = bool(getattr(marker, "autouse", False))
        self.holder = holder  # the module or class it was found on
        self.is_method = is_method
        self.argnames: tuple[str, ...] = arg_names(func, is_method)
        # How its value comes: returned, yielded, or yielded asynchronously.
        self.shape = "yield" if is_generator(func) else "async yield" if is_async_generator(func) else "return"
        # (value, cache key, exception) of the live value; None when torn down.
        self.cached: tuple[Any, Any, BaseException | None] | None = None
        self.finalizers: list[Callable[[], Any]] = []

    def scope(self, config: Any) -> str:
        """The scope, asking a dynamic ``scope=`` callable once."""
        if self._scope is None:
            scope = self.scope_spec(fixture_name=self.name, config=config)  # type: ignore[operator]
            if scope not in SCOPE_RANK:
                raise ValueError(f"fixture {self.name!r}: scope {scope!r} is not one of {', '.join(SCOPES)}")
            self._scope = scope
        return self._scope

    def static_scope(self) -> str:
        """The scope for ordering a closure (a dynamic scope not yet asked counts as function)."""
        return self._scope or "function"

    def addfinalizer(self, finalizer: Callable[[], Any]) -> None:
        self.finalizers.append(finalizer)

    def finish(self) -> None:
        """Tears the current value down: finalizers last first; the first error is raised after all ran."""
        error: BaseException | None = None
        finalizers = self.finalizers
        while finalizers:
            try:
                finalizers.pop()()
            except BaseException as exc:  # noqa: BLE001 - the others still run
                if error is None:
                    error = exc
        self.cached = None
        if error is not None:
            raise error

    def __repr__(self) -> str:
        return f"<FixtureDef {self.name!r} scope={self.scope_spec!r}>"


def definitions_in(holder: Any, is_class: bool) -> list[FixtureDef]:
    """The fixtures a module, conftest, plugin or class defines, in ``dir()`` order (as pytest)."""
    found = []
    for attribute in dir(holder):
        try:
            obj = _static_attr(holder, attribute) if is_class else getattr(holder, attribute, None)
        except Exception:  # noqa: BLE001 - an odd attribute is not a fixture
            continue
        definition = fixture_definition(obj)
        if definition is None:
            continue
        func, marker = definition
        name = getattr(marker, "name", None) or attribute
        is_method = is_class and not isinstance(_static_attr(holder, attribute), staticmethod)
        found.append(FixtureDef(name, func, marker, holder, is_method))
    return found


def _static_attr(cls: Any, name: str) -> Any:
    import inspect

    value = inspect.getattr_static(cls, name, None)
    return value.__func__ if isinstance(value, (staticmethod, classmethod)) else value


class FixtureSet:
    """The fixtures one place (built-ins, a plugin, a conftest, a module, a
    class) defines, chained to what is visible from its enclosing place."""

    __slots__ = ("autouse", "defs", "parent", "_autouse_names", "_closures")

    def __init__(self, parent: FixtureSet | None, definitions: Iterable[FixtureDef]) -> None:
        self.parent = parent
        self.defs: dict[str, FixtureDef] = {}
        self.autouse: list[str] = []
        for definition in definitions:
            self.defs[definition.name] = definition
            if definition.autouse and definition.name not in self.autouse:
                self.autouse.append(definition.name)
        self._closures: dict[tuple[Any, ...], Closure] = {}
        self._autouse_names: list[str] | None = None

    def lookup(self, name: str) -> list[FixtureDef]:
        """Every visible definition of ``name``, farthest first (the last is used)."""
        found = []
        place: FixtureSet | None = self
        while place is not None:
            definition = place.defs.get(name)
            if definition is not None:
                found.append(definition)
            place = place.parent
        found.reverse()
        return found

    def autouse_names(self) -> list[str]:
        """The autouse fixtures visible here, farthest first (computed once)."""
        names = self._autouse_names
        if names is None:
            names = list(self.parent.autouse_names()) if self.parent is not None else []
            names.extend(n for n in self.autouse if n not in names)
            self._autouse_names = names
        return names

    def visible_names(self) -> list[str]:
        names: set[str] = set()
        place: FixtureSet | None = self
        while place is not None:
            names.update(place.defs)
            place = place.parent
        return sorted(names)

    def forget_closures(self) -> None:
        """Definitions were added (plugins loaded): closures are computed again."""
        self._closures.clear()
        self._autouse_names = None

    def closure(self, argnames: Sequence[str], usefixtures: Sequence[str], direct: Iterable[str]) -> Closure:
        """The closure of a test (shared by the tests here that ask for the same)."""
        direct = frozenset(direct)
        key = (tuple(argnames), tuple(usefixtures), direct)
        known = self._closures.get(key)
        if known is None:
            known = self._closures[key] = Closure(self, argnames, usefixtures, direct)
        return known


class Closure:
    """What a test needs, as pytest computes it: names in set-up order and the
    definitions each name resolves to."""

    __slots__ = ("argnames", "defs", "direct", "names")

    def __init__(self, place: FixtureSet, argnames: Sequence[str], usefixtures: Sequence[str], direct: frozenset[str]):
        self.argnames = tuple(argnames)
        self.direct = direct  # directly parametrized names: values, not fixtures
        initial: list[str] = []
        for name in (*place.autouse_names(), *usefixtures, *argnames):
            if name not in initial:
                initial.append(name)
        defs: dict[str, list[FixtureDef]] = {}
        order: list[str] = []
        depth: dict[str, int] = {}

        def visit(name: str) -> None:
            index = depth.get(name)
            if index == -1:
                return
            if index is None:
                order.append(name)
                depth[name] = -1
            if name in direct:
                return
            chain = defs.get(name)
            if chain is None:
                chain = defs[name] = place.lookup(name)
            position = depth.get(name, -1)
            if not chain or -position > len(chain):
                return
            definition = chain[position]
            depth[name] = position - 1
            for dependency in definition.argnames:
                visit(dependency)
            depth[name] = position

        for name in initial:
            visit(name)
        rank = {
            name: (SCOPE_RANK[d[-1].static_scope()] if (d := defs.get(name)) else len(SCOPES) - 1) for name in order
        }
        self.names = sorted(order, key=rank.__getitem__)
        self.defs = {name: chain for name, chain in defs.items() if chain}

    def parametrized_fixtures(self, marked: frozenset[str]) -> list[tuple[str, FixtureDef]]:
        """The fixtures whose ``params`` multiply the test, in closure order
        (pytest's ``FixtureManager.pytest_generate_tests``): each name not
        parametrized by the test itself whose nearest definition (or one it
        requests by overriding) has params."""
        found = []
        for name in self.names:
            if name in marked or name in self.direct:
                continue
            for definition in reversed(self.defs.get(name, ())):
                if definition.params is not None:
                    found.append((name, definition))
                    break
                if name not in definition.argnames:
                    break
        return found


def is_generator(func: Any) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and bool(code.co_flags & 0x20)  # CO_GENERATOR


def is_async_generator(func: Any) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and bool(code.co_flags & 0x200)  # CO_ASYNC_GENERATOR


def call_fixture(definition: FixtureDef, kwargs: dict[str, Any], instance: Any, run_async: Callable[[Any], Any]) -> Any:
    """Calls a fixture function; a generator's first value is the fixture's
    value and the rest of it a finalizer of the definition."""
    func = definition.func
    if definition.is_method:
        func = func.__get__(instance) if instance is not None else func.__get__(_holder_instance(definition))
    shape = definition.shape
    if shape == "yield":
        generator = func(**kwargs)
        value = next(generator)
        definition.addfinalizer(lambda: _finish_generator(definition, generator))
        return value
    if shape == "async yield":
        generator = func(**kwargs)
        value = run_async(generator.__anext__())
        definition.addfinalizer(lambda: _finish_async_generator(definition, generator, run_async))
        return value
    value = func(**kwargs)
    if value is not None and hasattr(type(value), "__await__"):
        value = run_async(value)
    return value


def _holder_instance(definition: FixtureDef) -> Any:
    """A fixture method used outside its class's tests runs on a fresh instance, as under pytest."""
    return definition.holder()


def _finish_generator(definition: FixtureDef, generator: Any) -> None:
    try:
        next(generator)
    except StopIteration:
        return
    raise RuntimeError(f"fixture function {definition.name!r} has more than one 'yield'")


def _finish_async_generator(definition: FixtureDef, generator: Any, run_async: Callable[[Any], Any]) -> None:
    try:
        run_async(generator.__anext__())
    except StopAsyncIteration:
        return
    raise RuntimeError(f"fixture function {definition.name!r} has more than one 'yield'")


def not_found_message(name: str, place: FixtureSet, test_name: str) -> str:
    """pytest's message for a fixture nobody defines, with what is available."""
    available = ", ".join(n for n in place.visible_names() if not n.startswith("_"))
    return (
        f"fixture '{name}' not found (requested by {test_name})\n"
        f"available fixtures: {available}\n"
        "use 'pytest --fixtures [testpath]' for help on them."
    )


def arg_names(function: Any, is_method: bool) -> tuple[str, ...]:
    """The arguments pytest fills for a test (its ``getfuncargnames``): named
    parameters without a default, after ``self`` (``is_method``: not a
    staticmethod of a class) and what ``mock.patch`` decorators pass."""
    wrapped = getattr(function, "__wrapped__", None)
    code = getattr(function, "__code__", None)
    if wrapped is not None or code is None:
        import inspect

        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            return ()
        names = [
            p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty
        ]
    else:
        positional = code.co_varnames[code.co_posonlyargcount : code.co_argcount]
        defaults = len(getattr(function, "__defaults__", None) or ())
        if defaults:
            positional = positional[: len(positional) - defaults]
        keyword_only = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
        kwdefaults = getattr(function, "__kwdefaults__", None) or {}
        names = [*positional, *(n for n in keyword_only if n not in kwdefaults)]
    # As pytest does, even when `self` was positional-only and is not there.
    if is_method:
        names = names[1:]
    patchings = getattr(function, "patchings", None)
    if patchings and wrapped is not None:
        mock = sys.modules.get("unittest.mock")
        default = getattr(mock, "DEFAULT", None)
        injected = sum(1 for p in patchings if not p.attribute_name and p.new is default)
        names = names[injected:]
    return tuple(names)
