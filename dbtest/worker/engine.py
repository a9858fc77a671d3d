"""The fixture engine of one worker: what a test needs (its closure and
cases) and setting it up (`request.FixtureRun`).

`plan` answers, for a test function, what pytest's collection would: its
fixture closure and its cases, made by ``pytest_generate_tests`` hooks (the
class's, the module's, the conftests'), then by parametrized fixtures, then by
``parametrize`` marks, with pytest's ids. `run` sets up a test's fixtures on
the scope stack and gives the arguments to call it with.
"""

from __future__ import annotations

from pathlib import Path

from . import options
from .conftests import RUN_HOOKS, Plugins
from .fixtures import Closure, FixtureDef, FixtureSet, Marker, arg_names, definitions_in
from .nodes import Item, ScopeNode
from .parametrize import (
    Case,
    Parametrization,
    ParametrizeError,
    expand,
    mark_argnames,
    parametrize_marks,
)
from .pytest_config import Config
from .request import FixtureRun

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import ModuleType
    from typing import Any

    from .scopes import ScopeStack


class TestPlan:
    """What collection says of one test function: its closure and cases."""

    __slots__ = ("argnames", "cases", "closure", "error", "needs_fixtures", "place")
    __test__ = False

    def __init__(
        self,
        place: FixtureSet,
        closure: Closure,
        argnames: tuple[str, ...],
        cases: dict[str, Case],
        error: str | None,
    ) -> None:
        self.place = place
        self.closure = closure
        self.argnames = argnames  # what the test function itself takes
        self.cases = cases  # by id; empty when not parametrized
        self.error = error  # why it cannot be collected (pytest would refuse it)
        # Parametrized values are all it takes (the common parametrized test):
        # no fixture to set up, no request, no item needed.
        self.needs_fixtures = bool(closure.defs) or "request" in closure.names


class Metafunc:
    """``pytest_generate_tests``' argument: the test function about to be
    parametrized and ``parametrize`` to do it."""

    def __init__(self, function: Any, cls: type | None, module: ModuleType, fixturenames: list[str], config: Config):
        self.function = function
        self.cls = cls
        self.module = module
        self.fixturenames = fixturenames
        self.config = config
        self.definition = _Definition(function)
        self.calls: list[Parametrization] = []

    def parametrize(self, argnames: Any, argvalues: Any, indirect: Any = False, ids: Any = None, scope: Any = None):
        self.calls.append(
            Parametrization((argnames, list(argvalues)), {"indirect": indirect, "ids": ids, "scope": scope})
        )


class _Definition:
    """``metafunc.definition``: the function's marks."""

    def __init__(self, function: Any) -> None:
        from .marks import pytest_marks

        self.obj = function
        self.name = getattr(function, "__name__", "")
        self._marks = pytest_marks(function)

    def iter_markers(self, name: str | None = None) -> Any:
        return (m for m in self._marks if name is None or getattr(m, "name", None) == name)

    def get_closest_marker(self, name: str, default: Any = None) -> Any:
        return next(self.iter_markers(name), default)


class Engine:
    def __init__(self, rootdir: str, config: Config) -> None:
        self.config = config
        builtins = FixtureSet(None, _builtin_definitions())
        self.plugins = Plugins(rootdir, self._configure, builtins)
        self._places: dict[Any, FixtureSet] = {}
        self.session_node = ScopeNode("", "", None, Path(rootdir), config, [])
        self._async_runner: Any = None
        self._rel_paths: dict[str, str] = {}
        self._hooks: dict[tuple[str, Any], list[Callable[..., Any]]] = {}
        # Per module (and class): whether every test there needs a plan anyway
        # (autouse fixtures, usefixtures, generating hooks).
        self._context_needs: dict[tuple[Any, ...], bool] = {}
        self._registered: set[str] | None = None
        self._generators: dict[tuple[Any, ...], list[Callable[..., Any]]] = {}
        self._registered_lines = 0
        # Things to say once, with the next result (hooks not run...).
        self.notes: list[str] = []

    # -- where fixtures are visible ----------------------------------------------

    def place(self, module: ModuleType, classes: Sequence[type]) -> FixtureSet:
        """The fixtures visible in ``module`` (conftests and plugins included)
        and, with ``classes``, in the innermost of them."""
        key = (module, *classes)
        known = self._places.get(key)
        if known is not None:
            return known
        if classes:
            parent = self.place(module, classes[:-1])
            place = FixtureSet(parent, definitions_in(classes[-1], is_class=True))
        else:
            path = getattr(module, "__file__", None) or ""
            place = FixtureSet(self.plugins.place_for(path), definitions_in(module, is_class=False))
        self._places[key] = place
        return place

    def load_conftests(self, module_path: str) -> None:
        """Imports the conftests of a module's directories (before the module)."""
        self.plugins.place_for(module_path)

    # -- collection ------------------------------------------------------------

    def needs_plan(self, module: ModuleType, classes: Sequence[type], function: Any, marks: list[Any]) -> bool:
        """Whether a test needs more than a call: arguments, autouse fixtures,
        ``usefixtures``, parametrization, generating hooks. (Most tests do not;
        this answers without working out their closure.)"""
        code = getattr(function, "__code__", None)
        if code is None or getattr(function, "__wrapped__", None) is not None:
            return True
        if code.co_argcount + code.co_kwonlyargcount > (1 if classes else 0):
            return True
        for mark in marks:
            if getattr(mark, "name", None) in ("parametrize", "usefixtures"):
                return True
        key = (module, *classes)
        context = self._context_needs.get(key)
        if context is None:
            context = self._context_needs[key] = bool(
                options.current.usefixtures
                or self.place(module, classes).autouse_names()
                or self._generating_hooks(module, classes)
            )
        return context

    def plan(
        self, module: ModuleType, classes: Sequence[type], name: str, function: Any, marks: list[Any], is_method: bool
    ) -> TestPlan:
        place = self.place(module, classes)
        argnames = arg_names(function, is_method)
        usefixtures = [*options.current.usefixtures]
        for mark in marks:
            if getattr(mark, "name", None) == "usefixtures":
                usefixtures.extend(getattr(mark, "args", ()))
        param_marks = parametrize_marks(marks)
        marked: set[str] = set()
        direct: set[str] = set()
        for mark in param_marks:
            names, indirect = mark_argnames(mark)
            marked.update(names)
            direct.update(n for n in names if n not in indirect)
        closure = place.closure(argnames, usefixtures, direct)
        missing = any(n not in closure.defs and n not in direct and n != "request" for n in closure.names)
        if missing and self.plugins.load_installed():
            # A plugin's fixture, perhaps: installed plugins are imported only now.
            closure = place.closure(argnames, usefixtures, direct)
        calls: list[Any] = []
        error = None
        try:
            calls.extend(self._generated(module, classes, function, list(closure.names)))
            for fixture_name, definition in closure.parametrized_fixtures(frozenset(marked)):
                calls.append(
                    Parametrization(
                        (fixture_name, definition.params),
                        {"indirect": True, "ids": definition.ids, "scope": definition.static_scope()},
                    )
                )
            calls.extend(param_marks)
            takes = set(closure.names)
            takes.update(argnames)
            defs = closure.defs

            def scope_of(argname: str) -> str:
                chain = defs.get(argname)
                return chain[-1].static_scope() if chain else "function"

            expanded = expand(calls, takes.__contains__, options.current.ids, scope_of) if calls else []
            cases = {c.id: c for c in expanded}
        except ParametrizeError as exc:
            cases, error = {}, f"In {name}: {exc}"
        except Exception as exc:  # noqa: BLE001 - a broken hook errors the test, as a collection error
            cases, error = {}, f"In {name}: {type(exc).__name__}: {exc}"
        return TestPlan(place, closure, argnames, cases, error)

    def _generated(self, module: ModuleType, classes: Sequence[type], function: Any, names: list[str]) -> list[Any]:
        """Parametrizations made by ``pytest_generate_tests`` hooks, in pytest's
        order: the class's, the module's, then the conftests' (innermost first)."""
        hooks = self._generating_hooks(module, classes)
        if not hooks:
            return []
        cls = classes[-1] if classes else None
        metafunc = Metafunc(function, cls, module, names, self.config)
        for hook in hooks:
            hook(metafunc=metafunc) if _takes_keyword(hook, "metafunc") else hook(metafunc)
        return metafunc.calls

    def _generating_hooks(self, module: ModuleType, classes: Sequence[type]) -> list[Callable[..., Any]]:
        """The ``pytest_generate_tests`` hooks that apply, in pytest's order (looked up once)."""
        key = (module, *classes)
        known = self._generators.get(key)
        if known is None:
            known = self._generators[key] = self._find_generating_hooks(module, classes)
        return known

    def _find_generating_hooks(self, module: ModuleType, classes: Sequence[type]) -> list[Callable[..., Any]]:
        hooks: list[Callable[..., Any]] = []
        cls = classes[-1] if classes else None
        if cls is not None and callable(getattr(cls, "pytest_generate_tests", None)):
            hooks.append(cls().pytest_generate_tests)
        if callable(getattr(module, "pytest_generate_tests", None)):
            hooks.append(module.pytest_generate_tests)
        hooks.extend(self.hooks("pytest_generate_tests", module))
        return hooks

    # -- running ---------------------------------------------------------------

    def item(self, name: str, module: Any, cls: type | None, function: Any, marks: list[Any], case: Any) -> Item:
        """pytest's item for test ``name`` of ``module``."""
        path = getattr(module, "__file__", None) or ""
        rel = self._rel_paths.get(path)
        if rel is None:
            import os

            rel = self._rel_paths[path] = os.path.relpath(path, self.plugins.rootdir).replace(os.sep, "/")
        return Item(name, f"{rel}::{name}", module, cls, function, marks, self.config, case)

    def run(self, plan: TestPlan, item: Item, case: Case | None, stack: ScopeStack, instance: Any) -> dict[str, Any]:
        """Sets up the test's fixtures; the arguments its function takes.
        Raises what a fixture raised (a set-up error)."""
        direct: dict[str, Any] = {}
        indirect: dict[str, tuple[Any, int]] = {}
        if case is not None:
            for key, value in case.params.items():
                if key in case.indirect:
                    indirect[key] = (value, case.indices.get(key, 0))
                else:
                    direct[key] = value
        item.fixturenames = list(plan.closure.names)
        run = FixtureRun(
            item,
            plan.place,
            plan.closure.names,
            plan.closure.defs,
            direct,
            indirect,
            stack,
            self.config,
            self.run_async,
            self.session_node,
        )
        values = run.fill(instance)
        return {arg: values[arg] if arg in values else run.value(arg, run.top) for arg in plan.argnames}

    def run_async(self, awaitable: Any) -> Any:
        """Async fixtures (and the async tests that use them) share one event loop per worker."""
        runner = self._async_runner
        if runner is None:
            import asyncio

            runner = self._async_runner = asyncio.Runner()

        async def wrap() -> Any:
            return await awaitable

        return runner.run(wrap())

    @property
    def async_runner(self) -> Any:
        return self._async_runner

    # -- marks -----------------------------------------------------------------

    def unregistered_mark(self, marks: Sequence[Any]) -> str | None:
        """Under ``strict_markers``: pytest's error for the first of ``marks`` no
        configuration registered (the ini's ``markers``, conftests' and installed
        plugins' ``pytest_configure``), or None."""
        for mark in marks:
            name = getattr(mark, "name", None)
            if not isinstance(name, str) or name in _BUILTIN_MARKS:
                continue
            if name not in self._registered_marks():
                # Installed plugins register theirs (pytest-asyncio's `asyncio`...).
                if self.plugins.load_installed():
                    self._registered = None
                if name not in self._registered_marks():
                    return f"'{name}' not found in `markers` configuration option"
        return None

    def _registered_marks(self) -> set[str]:
        registered = self._registered
        if registered is None or self._registered_lines != len(self.config.getini("markers")):
            lines = self.config.getini("markers")
            registered = self._registered = {_marker_name(line) for line in lines}
            self._registered_lines = len(lines)
        return registered

    # -- hooks -----------------------------------------------------------------

    def _configure(self, module: ModuleType, is_conftest: bool) -> None:
        """A conftest or plugin was imported: its options, then its configuration
        hook. A conftest's hooks dbtest does not run are named once."""
        add_option = getattr(module, "pytest_addoption", None)
        if callable(add_option):
            from .options_parser import Parser

            parser = Parser(self.config)
            call_hook(add_option, parser=parser, pluginmanager=self.config.pluginmanager)
            parser.apply(options.current.extra_args)
        configure = getattr(module, "pytest_configure", None)
        if callable(configure):
            call_hook(configure, config=self.config)
        if not is_conftest:
            return
        unknown = [
            n for n in dir(module) if n.startswith("pytest_") and n not in RUN_HOOKS and callable(getattr(module, n))
        ]
        if unknown:
            where = getattr(module, "__file__", module.__name__)
            self.notes.append(f"dbtest does not run these hooks of {where}: {', '.join(unknown)}")

    def hooks(self, name: str, module: ModuleType) -> list[Callable[..., Any]]:
        """The conftest hooks called ``name`` that apply to ``module`` (looked up once per module)."""
        key = (name, module)
        found = self._hooks.get(key)
        if found is None:
            found = self._hooks[key] = self.plugins.hooks(name, getattr(module, "__file__", "") or "")
        return found

    def close(self) -> None:
        runner = self._async_runner
        if runner is not None:
            self._async_runner = None
            runner.close()


# Marks pytest itself registers.
_BUILTIN_MARKS = frozenset(
    {"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "tryfirst", "trylast"}
)


def _marker_name(line: str) -> str:
    """The mark a ``markers`` line registers: ``slow: ...`` -> ``slow``, ``net(host)`` -> ``net``."""
    for stop in (":", "("):
        line = line.split(stop, 1)[0]
    return line.strip()


def _builtin_definitions() -> list[FixtureDef]:
    """``pytestconfig`` and the built-ins of `builtin_fixtures` (``tmp_path``, ``monkeypatch``...)."""
    from . import builtin_fixtures

    definitions = [FixtureDef("pytestconfig", _pytestconfig, Marker("session"), None, False)]
    definitions.extend(definitions_in(builtin_fixtures, is_class=False))
    return definitions


def _pytestconfig(request: Any) -> Config:
    return request.config


def _takes_keyword(func: Any, name: str) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and name in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]


def call_hook(hook: Callable[..., Any], **available: Any) -> Any:
    """Calls a pytest hook with the arguments it names (pluggy's rule)."""
    code = getattr(hook, "__code__", None)
    if code is None:
        return hook(**available)
    wanted = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    if getattr(hook, "__self__", None) is not None:
        wanted = wanted[1:]
    return hook(**{name: available.get(name) for name in wanted})


current: Engine | None = None


def configure(rootdir: str, config: Config) -> Engine:
    global current
    current = Engine(rootdir, config)
    return current


def configure_from(message: dict[str, Any]) -> Engine:
    """The engine for a worker, from the coordinator's ``config`` message."""
    settings = options.current
    cache_dir = message.get("cache_dir")
    config = Config(
        Path(message["rootdir"]),
        Path(settings.inifile) if settings.inifile else None,
        settings.ini,
        Path(cache_dir) if cache_dir else None,
        Path(settings.basetemp) if settings.basetemp else None,
        message["worker"],
        settings.extra_args,
    )
    return configure(message["rootdir"], config)


def engine() -> Engine:
    """The worker's engine (one made from pytest's defaults if none was configured)."""
    global current
    if current is None:
        current = Engine(".", Config(Path.cwd(), None, {}, None, None, 1))
    return current
