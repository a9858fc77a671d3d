"""The ``request`` a fixture or a test takes (``FixtureRequest``,
``SubRequest``), and setting up one test's fixtures (``FixtureRun``): values
from each fixture's cache or from running it, each teardown on its scope's node.

The objects ``request.node`` and ``request.config`` return are in ``nodes.py``
and ``pytest_config.py``.
"""

from __future__ import annotations

from .fixtures import SCOPE_RANK, FixtureDef, FixtureLookupError, FixtureSet, call_fixture, not_found_message
from .names import class_path, path_of
from .nodes import ScopeNode

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any

    from .nodes import Item
    from .pytest_config import Config
    from .scopes import ScopeStack


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
            nodeid = f"{path_of(item.nodeid)}::{class_path(item.name)}"
            return ScopeNode(item.cls.__name__, nodeid, item.cls, item.path, self.config, [])
        if scope == "module":
            return ScopeNode(item.path.name, path_of(item.nodeid), item.module, item.path, self.config, [])
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
