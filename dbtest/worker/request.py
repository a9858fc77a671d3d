"""What fixtures and hooks see of pytest's objects: the ``request`` a fixture
takes, the test item (``request.node``), the nodes of broader scopes, and the
configuration (``request.config``, ``pytestconfig``).

They are dbtest's own objects with the attributes and methods of pytest's that
suites use (see the user guide for the list); anything else is missing on
purpose rather than faked.
"""

from __future__ import annotations

from pathlib import Path

from .fixtures import SCOPE_RANK, FixtureDef, FixtureLookupError, FixtureSet, call_fixture, not_found_message

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType
    from typing import Any

    from .parametrize import Case
    from .scopes import ScopeStack

_NOTSET: Any = object()


class Namespace:
    """``config.option``: options as attributes."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class PluginManager:
    """The little of pytest's plugin manager conftests ask about."""

    def hasplugin(self, name: str) -> bool:
        return False

    def getplugin(self, name: str) -> None:
        return None

    def get_plugin(self, name: str) -> None:
        return None

    def register(self, plugin: Any, name: str | None = None) -> None:
        return None

    def list_name_plugin(self) -> list[tuple[str, Any]]:
        return []


class InvocationParams:
    def __init__(self, args: tuple[str, ...], directory: Path) -> None:
        self.args = args
        self.dir = directory


class Config:
    """``request.config`` / ``pytestconfig``: pytest's settings and options."""

    def __init__(
        self,
        rootpath: Path,
        inipath: Path | None,
        ini: dict[str, Any],
        cache_dir: Path | None,
        basetemp: Path | None,
        worker: int,
        args: tuple[str, ...] = (),
    ) -> None:
        self.rootpath = rootpath
        self.rootdir = rootpath
        self.inipath = inipath
        self.inifile = inipath
        self.cache_dir = cache_dir
        self.basetemp = basetemp
        self.worker = worker
        self.invocation_params = InvocationParams(args, Path.cwd())
        self.invocation_dir = self.invocation_params.dir
        self.args = list(args)
        self.pluginmanager = PluginManager()
        self.stash: dict[Any, Any] = {}
        self._ini = dict(ini)
        # Registered by conftests' pytest_addoption: name -> (default, type).
        self._ini_defaults: dict[str, tuple[Any, str | None]] = {}
        self._options: dict[str, Any] = {
            "verbose": 0,
            "capture": "fd",
            "keyword": "",
            "markexpr": "",
            "tbstyle": "auto",
            "usepdb": False,
            "runxfail": False,
            "basetemp": None,
            "rootdir": None,
            "exitfirst": False,
            "maxfail": 0,
            "strict_markers": False,
            "collectonly": False,
            "help": False,
            "version": False,
            "noconftest": False,
            "lf": False,
            "failedfirst": False,
            "numprocesses": None,
        }
        self.option = Namespace(self._options)
        self._cleanups: list[Callable[[], Any]] = []

    # -- options ---------------------------------------------------------------

    def getoption(self, name: str, default: Any = _NOTSET, skip: bool = False) -> Any:
        """An option's value (``--runslow`` and ``runslow`` both name one)."""
        key = name.lstrip("-").replace("-", "_")
        if key in self._options:
            value = self._options[key]
            if value is None and skip:
                _skip(f"no {name!r} option found")
            return value
        if default is not _NOTSET:
            return default
        if skip:
            _skip(f"no {name!r} option found")
        raise ValueError(f"no option named {name!r}")

    def getvalue(self, name: str) -> Any:
        return self.getoption(name)

    def set_option(self, dest: str, value: Any) -> None:
        self._options[dest] = value
        setattr(self.option, dest, value)

    # -- ini -------------------------------------------------------------------

    def getini(self, name: str) -> Any:
        kind = self._ini_defaults.get(name, (None, None))[1] or _INI_KINDS.get(name)
        if name not in self._ini:
            if name in self._ini_defaults:
                default = self._ini_defaults[name][0]
                return default if default is not None else _empty(kind)
            if name in _INI_KINDS:
                return _empty(kind)
            raise ValueError(f"unknown configuration value: {name!r}")
        return _typed(self._ini[name], kind)

    def addinivalue_line(self, name: str, line: str) -> None:
        current = self.getini(name) if (name in self._ini or name in _INI_KINDS) else []
        values = list(current) if isinstance(current, list) else [current]
        values.append(line)
        self._ini[name] = values

    def add_cleanup(self, func: Callable[[], Any]) -> None:
        self._cleanups.append(func)

    def issue_config_time_warning(self, warning: Warning, stacklevel: int) -> None:
        import warnings

        warnings.warn(warning, stacklevel=stacklevel)


_INI_KINDS = {
    "markers": "linelist",
    "filterwarnings": "linelist",
    "testpaths": "args",
    "python_files": "args",
    "python_classes": "args",
    "python_functions": "args",
    "norecursedirs": "args",
    "addopts": "args",
    "usefixtures": "args",
    "pythonpath": "paths",
    "xfail_strict": "bool",
    "strict_xfail": "bool",
    "strict_markers": "bool",
    "strict": "bool",
}


def _empty(kind: str | None) -> Any:
    if kind in ("linelist", "args", "paths", "pathlist"):
        return []
    if kind == "bool":
        return False
    return ""


def _typed(value: Any, kind: str | None) -> Any:
    if kind in ("linelist", "args", "paths", "pathlist"):
        if isinstance(value, list):
            return list(value)
        if kind == "linelist":
            return [line.strip() for line in str(value).splitlines() if line.strip()]
        import shlex

        return shlex.split(str(value))
    if kind == "bool":
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("y", "yes", "t", "true", "on", "1")
    return value


def _skip(reason: str) -> None:
    import unittest

    raise unittest.SkipTest(reason)


class Mark:
    """A mark added at run time (``request.applymarker``, ``node.add_marker``)
    when the caller passes a name rather than pytest's own mark object."""

    def __init__(self, name: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs or {}


def _as_mark(marker: Any) -> Any:
    if isinstance(marker, str):
        return Mark(marker)
    return getattr(marker, "mark", marker)


class ScopeNode:
    """``request.node`` of a fixture of module, class, package or session
    scope: the module or class (or the session)."""

    def __init__(self, name: str, nodeid: str, obj: Any, path: Path | None, config: Config, marks: list[Any]) -> None:
        self.name = name
        self.nodeid = nodeid
        self.obj = obj
        self.path = path
        self.fspath = path
        self.config = config
        self.own_markers = marks
        self.keywords = {name: True, **{m.name: m for m in marks if hasattr(m, "name")}}
        self.stash: dict[Any, Any] = {}

    @property
    def module(self) -> Any:
        return self.obj if self.obj is not None and not isinstance(self.obj, type) else None

    @property
    def cls(self) -> Any:
        return self.obj if isinstance(self.obj, type) else None

    def iter_markers(self, name: str | None = None) -> Iterator[Any]:
        return (m for m in self.own_markers if name is None or getattr(m, "name", None) == name)

    def get_closest_marker(self, name: str, default: Any = None) -> Any:
        return next(self.iter_markers(name), default)

    def add_marker(self, marker: Any, append: bool = True) -> None:
        mark = _as_mark(marker)
        if append:
            self.own_markers.append(mark)
        else:
            self.own_markers.insert(0, mark)
        self.keywords[mark.name] = mark

    def listchain(self) -> list[Any]:
        return [self]


class Item:
    """The test item (``request.node``): its name, id, marks and objects."""

    def __init__(
        self,
        name: str,
        nodeid: str,
        module: ModuleType,
        cls: type | None,
        function: Any,
        marks: list[Any],
        config: Config,
        case: Case | None,
    ) -> None:
        self.name = name
        self.originalname = name.partition("[")[0].rpartition("::")[2]
        self.nodeid = nodeid
        self.module = module
        self.cls = cls
        self.function = function
        self.obj = function
        self.instance: Any = None
        self.config = config
        self.own_markers = list(marks)
        self.user_properties: list[tuple[str, Any]] = []
        self.funcargs: dict[str, Any] = {}
        self.fixturenames: list[str] = []
        self.stash: dict[Any, Any] = {}
        self._keywords: dict[str, Any] | None = None
        self.callspec = _CallSpec(case) if case is not None else None
        # pytest 9's `subtests` fixture reports here (see testcase.py's counterpart).
        self.subtests_passed = 0
        self.subtest_failures: list[tuple[str, Any]] = []
        # Marks added while the test is set up (`request.applymarker`).
        self.added_marks: list[Any] = []

    # Made when asked for: most tests never are.

    @property
    def path(self) -> Path:
        return Path(getattr(self.module, "__file__", "") or "")

    @property
    def fspath(self) -> Path:
        return self.path

    @property
    def location(self) -> tuple[str, int, str]:
        return (str(self.path), 0, self.name)

    @property
    def keywords(self) -> dict[str, Any]:
        """The test's name, its function's, and its marks' names (what ``-k`` and ``in`` look at)."""
        keywords = self._keywords
        if keywords is None:
            keywords = self._keywords = {self.name: True, self.originalname: True}
            for mark in self.own_markers:
                mark_name = getattr(mark, "name", None)
                if isinstance(mark_name, str):
                    keywords.setdefault(mark_name, mark)
        return keywords

    def iter_markers(self, name: str | None = None) -> Iterator[Any]:
        return (m for m in self.own_markers if name is None or getattr(m, "name", None) == name)

    def iter_markers_with_node(self, name: str | None = None) -> Iterator[tuple[Any, Any]]:
        return ((self, m) for m in self.iter_markers(name))

    def get_closest_marker(self, name: str, default: Any = None) -> Any:
        return next(self.iter_markers(name), default)

    def add_marker(self, marker: Any, append: bool = True) -> None:
        mark = _as_mark(marker)
        if append:
            self.own_markers.append(mark)
        else:
            self.own_markers.insert(0, mark)
        self.added_marks.append(mark)
        self.keywords[mark.name] = mark

    def listextrakeywords(self) -> set[str]:
        return set()

    def add_report_section(self, when: str, key: str, content: str) -> None:
        return None

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name

    def listchain(self) -> list[Any]:
        return [self]


class _CallSpec:
    """``item.callspec``: a parametrized case's arguments and id."""

    def __init__(self, case: Case) -> None:
        self.params = dict(case.params)
        self.id = case.id

    def getparam(self, name: str) -> Any:
        return self.params[name]


class FixtureRequest:
    """The ``request`` of a test (``scope`` function) or of one fixture
    (`SubRequest`): where values come from, scopes, finalizers, the test's objects."""

    fixturename: str | None = None
    scope = "function"

    def __init__(self, run: FixtureRun) -> None:
        self._run = run
        self._parent: FixtureRequest | None = None

    # -- the test's objects ------------------------------------------------------

    @property
    def node(self) -> Any:
        return self._run.item

    @property
    def config(self) -> Config:
        return self._run.config

    @property
    def function(self) -> Any:
        return self._run.item.function

    @property
    def cls(self) -> Any:
        return self._run.item.cls

    @property
    def instance(self) -> Any:
        return self._run.instance

    @property
    def module(self) -> Any:
        return self._run.item.module

    @property
    def path(self) -> Path:
        return self._run.item.path

    @property
    def fspath(self) -> Path:
        return self._run.item.path

    @property
    def keywords(self) -> dict[str, Any]:
        return self._run.item.keywords

    @property
    def fixturenames(self) -> list[str]:
        return list(self._run.item.fixturenames)

    @property
    def session(self) -> Any:
        return self._run.session_node

    # -- what a request does ---------------------------------------------------

    def getfixturevalue(self, argname: str) -> Any:
        return self._run.value(argname, self)

    def addfinalizer(self, finalizer: Callable[[], Any]) -> None:
        self._run.stack.function_node(self._run.item.name).addfinalizer(finalizer)

    def applymarker(self, marker: Any) -> None:
        self._run.item.add_marker(marker)

    def raiseerror(self, msg: str | None) -> None:
        raise FixtureLookupError(msg or "fixture error")

    def _chain(self) -> Iterator[FixtureRequest]:
        request: FixtureRequest | None = self
        while request is not None:
            yield request
            request = request._parent

    def __repr__(self) -> str:
        return f"<FixtureRequest for {self._run.item.nodeid!r}>"


class SubRequest(FixtureRequest):
    """The ``request`` a fixture takes: its own name, scope and parameter."""

    def __init__(self, run: FixtureRun, parent: FixtureRequest, definition: FixtureDef, scope: str) -> None:
        super().__init__(run)
        self._parent = parent
        self._definition = definition
        self.fixturename = definition.name
        self.scope = scope  # type: ignore[misc]
        self.param_index = 0
        self._has_param = False

    @property
    def param(self) -> Any:
        if not self._has_param:
            raise AttributeError(
                f"'SubRequest' object has no attribute 'param' ({self.fixturename} is not parametrized)"
            )
        return self._param

    def _set_param(self, value: Any, index: int) -> None:
        self._param = value
        self.param_index = index
        self._has_param = True

    @property
    def node(self) -> Any:
        return self._run.scope_node(self.scope)

    def addfinalizer(self, finalizer: Callable[[], Any]) -> None:
        self._definition.addfinalizer(finalizer)

    def __repr__(self) -> str:
        return f"<SubRequest {self.fixturename!r} for {self._run.item.nodeid!r}>"


class FixtureRun:
    """Setting up the fixtures of one test: values come from each fixture's
    cache or from running it, and every fixture's teardown goes to its scope."""

    def __init__(
        self,
        item: Item,
        place: FixtureSet,
        closure_names: list[str],
        defs: dict[str, list[FixtureDef]],
        direct: dict[str, Any],
        indirect: dict[str, tuple[Any, int]],
        stack: ScopeStack,
        config: Config,
        run_async: Callable[[Any], Any],
        session_node: ScopeNode,
    ) -> None:
        self.item = item
        self.place = place
        self.direct = direct  # directly parametrized values
        self.indirect = indirect  # name -> (param, index) for parametrized fixtures
        self.stack = stack
        self.config = config
        self.run_async = run_async
        self.session_node = session_node
        self.instance: Any = None
        self.names = closure_names
        self.defs = defs  # each closure name's definitions, farthest first
        self.top = FixtureRequest(self)

    def fill(self, instance: Any) -> dict[str, Any]:
        """Sets up every fixture of the closure, in order; the values by name."""
        self.instance = instance
        self.item.instance = instance
        values = self.item.funcargs
        for name in self.names:
            if name not in values:
                values[name] = self.value(name, self.top)
        return values

    def value(self, name: str, requester: FixtureRequest) -> Any:
        if name == "request":
            return requester
        direct = self.direct
        if name in direct:
            return direct[name]
        chain = self.defs.get(name) or self.place.lookup(name)
        # A fixture requesting its own name gets the one it overrides.
        depth = 0 if requester is self.top else sum(1 for r in requester._chain() if r.fixturename == name)
        if not chain or depth >= len(chain):
            raise FixtureLookupError(not_found_message(name, self.place, self.item.name))
        definition = chain[-1 - depth]
        scope = definition._scope or definition.scope(self.config)
        _check_scope(requester, name, scope)
        param = self.indirect.get(name)
        key = param[1] if param is not None else None
        cached = definition.cached
        if cached is not None:
            value, cached_key, error = cached
            if cached_key == key:
                if error is not None:
                    raise error
                return value
            definition.finish()  # another parameter: the old value goes first
        request = SubRequest(self, requester, definition, scope)
        if param is not None:
            request._set_param(*param)
        # A fixture of the same scope this one requests, torn down (for another
        # parameter), takes this one with it. (Broader ones outlive it anyway.)
        for dependency in definition.argnames:
            if dependency != "request" and dependency not in self.direct:
                owner = self._active(dependency, request)
                if owner is not None and owner.scope(self.config) == scope:
                    owner.addfinalizer(definition.finish)
        self._scope_node_for(scope).addfinalizer(definition.finish, f"{definition.name} (fixture)")
        try:
            kwargs = {arg: self.value(arg, request) for arg in definition.argnames}
            value = call_fixture(definition, kwargs, self.instance, self.run_async)
        except BaseException as exc:
            definition.cached = (None, key, exc)
            raise
        definition.cached = (value, key, None)
        return value

    def _active(self, name: str, requester: FixtureRequest) -> FixtureDef | None:
        if name in self.direct or name == "request":
            return None
        chain = self.defs.get(name) or self.place.lookup(name)
        depth = sum(1 for request in requester._chain() if request.fixturename == name)
        return chain[-1 - depth] if chain and depth < len(chain) else None

    def _scope_node_for(self, scope: str) -> Any:
        stack = self.stack
        if scope == "function" or (scope == "class" and stack.klass is None):
            return stack.function_node(self.item.name)
        return stack.node(scope)

    def scope_node(self, scope: str) -> Any:
        item = self.item
        if scope == "function" or (scope == "class" and item.cls is None):
            return item
        if scope == "class":
            return ScopeNode(item.cls.__name__, item.nodeid.rpartition("::")[0], item.cls, item.path, self.config, [])
        if scope == "module":
            return ScopeNode(item.path.name, item.nodeid.partition("::")[0], item.module, item.path, self.config, [])
        return self.session_node


def _check_scope(requester: FixtureRequest, name: str, scope: str) -> None:
    """A fixture may not request one of a narrower scope (pytest's ScopeMismatch)."""
    if scope == "function" and requester.scope == "function" or SCOPE_RANK[scope] <= SCOPE_RANK[requester.scope]:
        return
    stack = [r.fixturename for r in requester._chain() if r.fixturename]
    raise FixtureLookupError(
        f"ScopeMismatch: You tried to access the {scope} scoped fixture {name} with a "
        f"{requester.scope} scoped request object. Requesting fixture stack: {' -> '.join(reversed(stack))}"
    )
