"""The scope stack: what is set up around the test that runs, and when it is
torn down.

As pytest's ``SetupState`` does, the worker keeps a stack of the scopes the
current test lives in: session (the worker), package (one node per package of
the module's dotted name), module, class. Each node has a LIFO list of
finalizers. Before a test, the nodes that are not on its path are torn down
and the missing ones set up; the test itself gets a function node only when
something registers set-up or teardown for it (the common plain test needs
none). After a test, the next test's path decides what is torn down (pytest's
``nextitem``); at shutdown, everything is.

A node whose set-up failed keeps the failure: every test under it reports it
without running the set-up again, and nothing is set up below it.

Each node holds a snapshot of the process state (`isolation`) taken when it
had finished setting up: after a test, the state goes back to the innermost
node's snapshot, so what the test changed is undone and what its scopes set up
stays; after a node is torn down, to its parent's, which undoes what the scope
itself changed. What an import changes belongs to the whole worker (pytest
imports every module before running anything): it goes into every node's
snapshot (`absorb`).

The xunit hooks (`xunit`) set up modules and classes today; a fixture engine
registers a fixture's teardown on the node of its scope:
``stack.node("module").addfinalizer(fn)``.
"""

from __future__ import annotations

import time

from . import isolation, xunit
from .names import class_path
from .outcomes import ERROR, PASSED, SKIPPED, TEARDOWN, Outcome, format_exception, from_exception, teardown_error

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from .children import ChildWatch
    from .collect import Target

    # (module or package the node belongs to, fixture name, outcome, duration)
    TeardownReport = Callable[[str, str, Outcome, float], None]

perf_counter = time.perf_counter


class Node:
    """One scope on the stack: what it is, its finalizers, its state."""

    __slots__ = ("failure", "finalizers", "function_hooks", "instance", "key", "loop", "obj", "scope", "snapshot")

    def __init__(self, scope: str, key: str, obj: Any = None) -> None:
        self.scope = scope  # "session", "package", "module", "class" or "function"
        self.key = key  # dotted package or module name, class path ("Outer::Inner"), test name
        self.obj = obj  # the module or class
        self.finalizers: list[tuple[str, Callable[[], Any]]] = []
        self.failure: Outcome | None = None  # what its set-up raised
        self.snapshot: isolation.Snapshot | None = None
        # Module nodes: pytest's setup_function/teardown_function, looked up once.
        self.function_hooks: tuple[Callable[..., Any] | None, Callable[..., Any] | None] = (None, None)
        # TestSuite class nodes: the one instance and event loop of the suite.
        self.instance: Any = None
        self.loop: Any = None

    def addfinalizer(self, finalizer: Callable[[], Any], name: str | None = None) -> None:
        """Runs ``finalizer`` when the node is torn down, before those added earlier.
        ``name`` is what a failure is reported as."""
        self.finalizers.append((name or getattr(finalizer, "__qualname__", repr(finalizer)), finalizer))

    def __repr__(self) -> str:
        return f"<Node {self.scope} {self.key!r}>"


def packages_of(module_name: str) -> list[str]:
    """The packages a module lives in, outermost first: ``a.b.test_c`` -> ``a``, ``a.b``."""
    parts = module_name.split(".")[:-1]
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


class ScopeStack:
    def __init__(self, children: ChildWatch, report_teardown: TeardownReport) -> None:
        session = Node("session", "")
        session.snapshot = isolation.take()
        self.nodes: list[Node] = [session]
        # Shortcuts to the nodes the per-test path looks at.
        self.module: Node | None = None
        self.klass: Node | None = None
        self.function: Node | None = None
        # The innermost node's snapshot: what each test is restored to.
        self.snapshot: isolation.Snapshot = session.snapshot
        # The module imported for the current batch, set up before its first test runs.
        self._pending: tuple[ModuleType, str] | None = None
        self._children = children
        self._report_teardown = report_teardown

    # -- looking nodes up ------------------------------------------------------

    def node(self, scope: str) -> Node:
        """The innermost active node of ``scope``. A module outside any package
        has the session as its package scope, as under pytest; the function node
        is made on demand."""
        if scope == "function":
            return self.function_node()
        for node in reversed(self.nodes):
            if node.scope == scope:
                return node
        if scope == "package":
            return self.nodes[0]
        raise LookupError(f"no {scope} scope is set up")

    def function_node(self, test_name: str = "") -> Node:
        """The running test's node, made by the first caller that needs one."""
        node = self.function
        if node is None:
            node = self.function = Node("function", test_name)
        return node

    # -- moving along the path of the next test ----------------------------------

    def prepare_module(self, name: str) -> None:
        """Before module ``name`` is imported: tears down what is not on its path."""
        keys = packages_of(name)
        keys.append(name)
        scopes = ["package"] * (len(keys) - 1)
        scopes.append("module")
        nodes = self.nodes
        depth = 1
        while depth < len(nodes) and depth <= len(keys):
            node = nodes[depth]
            if node.key != keys[depth - 1] or node.scope != scopes[depth - 1]:
                break
            depth += 1
        self.teardown_to(depth)

    def absorb(self) -> None:
        """What changed since the innermost node's snapshot (an import) belongs to every node."""
        isolation.absorb([node.snapshot for node in self.nodes])  # type: ignore[misc]
        self._children.accept()

    def set_module(self, module: ModuleType, name: str) -> None:
        """``module`` is the batch's: its node is set up before its first test runs."""
        current = self.module
        if current is not None:
            if current.obj is module:
                return
            # Imported again under the same name (it was dropped meanwhile).
            self.teardown_to(self.nodes.index(current))
        self._pending = (module, name)

    def enter(self, target: Target) -> Outcome | None:
        """Sets up the scopes ``target`` needs; returns the failure of one whose set-up failed."""
        module = self.module
        if module is None:
            module = self._push_module()
        if module.failure is not None:
            return module.failure
        cls = target.cls
        klass = self.klass
        if cls is None:
            if klass is not None:  # not torn down by next_test: only if the batch said so
                self.teardown_to(len(self.nodes) - 1)
            return None
        if klass is None or klass.obj is not cls:
            if klass is not None:
                self.teardown_to(len(self.nodes) - 1)
            klass = self._push(Node("class", class_path(target.name), cls), xunit.set_up_class, target.style)
            self.klass = klass
        return klass.failure

    def next_test(self, name: str | None) -> None:
        """After a test: tears down the class unless test ``name`` (None: the
        batch's last was run) belongs to it. Batches never split a class, so it
        is closed at the end of the batch, and its teardown reported promptly."""
        klass = self.klass
        if klass is not None and (name is None or class_path(name) != klass.key):
            self.teardown_to(len(self.nodes) - 1)

    def close(self) -> None:
        """Tears everything down (the worker is shutting down)."""
        self.teardown_to(0)

    # -- set-up and teardown ---------------------------------------------------

    def _push_module(self) -> Node:
        pending = self._pending
        if pending is None:
            raise RuntimeError("a test ran before its module was set")
        module, name = pending
        self._pending = None
        for key in packages_of(name)[len(self.nodes) - 1 :]:
            self._push(Node("package", key), None, None)
        node = self.module = self._push(Node("module", name, module), xunit.set_up_module, None)
        return node

    def _push(self, node: Node, set_up: Callable[[Node, Any], bool] | None, arg: Any) -> Node:
        parent = self.snapshot
        self.nodes.append(node)
        # A node whose set-up did nothing starts from its parent's state: no snapshot of its own.
        if set_up is not None and set_up(node, arg):
            node.snapshot = isolation.take(parent.cwd)
            self._children.accept()
        else:
            node.snapshot = parent
        self.snapshot = node.snapshot
        return node

    def teardown_to(self, depth: int) -> None:
        """Tears down the nodes above the first ``depth``, innermost first."""
        nodes = self.nodes
        while len(nodes) > depth:
            node = nodes.pop()
            if node is self.klass:
                self.klass = None
            elif node is self.module:
                self.module = None
            if node.finalizers:
                self._finalize(node)
            if nodes:
                snapshot = self.snapshot = nodes[-1].snapshot  # type: ignore[assignment]
                isolation.restore(snapshot)
            self._children.accept()

    def _finalize(self, node: Node) -> None:
        owner = node.key if node.scope in ("module", "package") else self._owner()
        finalizers = node.finalizers
        while finalizers:
            name, finalizer = finalizers.pop()
            start = perf_counter()
            try:
                finalizer()
            except BaseException as exc:  # noqa: BLE001 - reported, and the others still run
                outcome = from_exception(exc, TEARDOWN)
                if outcome.outcome not in (PASSED, SKIPPED):
                    message, text = format_exception(exc)
                    failure = Outcome(ERROR, TEARDOWN, "exception", message, text)
                    self._report_teardown(owner, name, failure, perf_counter() - start)

    def _owner(self) -> str:
        """The module (or package) of the innermost remaining node: what a
        class's teardown is reported under."""
        for node in reversed(self.nodes):
            if node.scope in ("module", "package"):
                return node.key
        return ""

    def finish_function(self) -> Outcome | None:
        """Tears down the running test's node: its finalizers, last first. The
        first failure, as the test's teardown error."""
        node = self.function
        self.function = None
        failure = None
        if node is not None:
            finalizers = node.finalizers
            while finalizers:
                _, finalizer = finalizers.pop()
                try:
                    finalizer()
                except BaseException as exc:  # noqa: BLE001 - the test's teardown error
                    if failure is None:
                        failure = teardown_error(exc)
        return failure
