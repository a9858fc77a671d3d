"""A stand-in for dbtest's fixture engine, for testing the built-in fixtures
(`dbtest.worker.builtin_fixtures`) on their own: it sets up the built-ins a test
function names (and what they request), session ones once, through a `Request`
with exactly the attributes the engine provides, announces the phases, and
tears everything down in reverse order.

Also used by scripts the tests run in a subprocess (no pytest there).
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from dbtest.worker import builtin_fixtures
from dbtest.worker.builtins import phases


class Config:
    """``request.config``."""

    def __init__(
        self,
        basetemp: Path,
        cache_dir: Path | None,
        ini: dict[str, Any] | None = None,
        rootpath: Path | None = None,
        worker: int = 1,
    ) -> None:
        self.rootpath = rootpath or basetemp
        self.cache_dir = cache_dir
        self.basetemp = basetemp
        self.worker = worker
        self.ini = dict(ini or {})

    def getini(self, name: str) -> Any:
        if name not in self.ini:
            raise ValueError(f"unknown configuration value: {name!r}")
        return self.ini[name]


class Node:
    """``request.node`` of a test."""

    def __init__(self, name: str, nodeid: str) -> None:
        self.name = name
        self.nodeid = nodeid
        self.user_properties: list[tuple[str, Any]] = []
        self.subtests_passed = 0
        self.subtest_failures: list[tuple[str, Any]] = []


class Request:
    def __init__(self, harness: Harness, run: TestRun | None, fixturename: str, scope: str) -> None:
        self._harness = harness
        self._run = run
        self.fixturename = fixturename
        self.scope = scope
        self.config = harness.config
        self.node = run.node if run is not None else harness.session_node

    def addfinalizer(self, finalizer: Any) -> None:
        if self.scope == "session":
            self._harness.session_finalizers.append(finalizer)
        else:
            assert self._run is not None
            self._run.finalizers.append(finalizer)

    def getfixturevalue(self, name: str) -> Any:
        return self._harness.value(name, self._run)


class TestRun:
    __test__ = False

    def __init__(self, node: Node) -> None:
        self.node = node
        self.values: dict[str, Any] = {}
        self.finalizers: list[Any] = []


def _teardown(finalizers: list[Any]) -> list[BaseException]:
    errors = []
    while finalizers:
        try:
            finalizers.pop()()
        except BaseException as exc:  # noqa: BLE001 - every finalizer runs
            errors.append(exc)
    return errors


def _finish_generator(generator: Any) -> Any:
    def finish() -> None:
        try:
            next(generator)
        except StopIteration:
            return
        raise RuntimeError("fixture function has more than one 'yield'")

    return finish


class Harness:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.session_node = Node("session", "")
        self.session_values: dict[str, Any] = {}
        self.session_finalizers: list[Any] = []

    def value(self, name: str, run: TestRun | None) -> Any:
        func = getattr(builtin_fixtures, name)
        spec = func.__dbtest_fixture__
        if spec.scope == "session":
            cache, finalizers, owner = self.session_values, self.session_finalizers, None
        else:
            assert run is not None, f"{name} requested outside a test"
            cache, finalizers, owner = run.values, run.finalizers, run
        if name in cache:
            return cache[name]
        request = Request(self, owner, name, spec.scope)
        kwargs = {}
        for param in inspect.signature(func).parameters:
            kwargs[param] = request if param == "request" else self.value(param, owner)
        result = func(**kwargs)
        if inspect.isgenerator(result):
            generator = result
            result = next(generator)
            finalizers.append(_finish_generator(generator))
        cache[name] = result
        return result

    def setup(self, node: Node, names: list[str]) -> TestRun:
        run = TestRun(node)
        phases.enter_phase("setup")
        for name in names:
            self.value(name, run)
        return run

    def teardown(self, run: TestRun) -> list[BaseException]:
        phases.enter_phase("teardown")
        try:
            return _teardown(run.finalizers)
        finally:
            phases.enter_phase("call")

    def run(self, test: Any, name: str | None = None, nodeid: str | None = None) -> tuple[Node, BaseException | None]:
        """Runs ``test`` with the built-ins its parameters name: its node and what it raised."""
        name = name or test.__name__
        node = Node(name, nodeid or f"test_file.py::{name}")
        names = list(inspect.signature(test).parameters)
        run = TestRun(node)
        error: BaseException | None = None
        phases.enter_phase("setup")
        try:
            for name in names:
                self.value(name, run)
        except BaseException as exc:  # noqa: BLE001 - a set-up error is the test's
            error = exc
        else:
            phases.enter_phase("call")
            try:
                test(**{n: self.value(n, run) for n in names})
            except BaseException as exc:  # noqa: BLE001
                error = exc
        errors = self.teardown(run)
        if error is None and errors:
            error = errors[0]
        return node, error

    def close(self) -> list[BaseException]:
        return _teardown(self.session_finalizers)


def run_module_tests(harness: Harness, module: Any) -> dict[str, tuple[Node, BaseException | None]]:
    """Runs every ``test_*`` function of ``module`` (parametrized ones once per
    ``pytest.mark.parametrize`` case, named ``test_x[id]``): each one's node and error."""
    results: dict[str, tuple[Node, BaseException | None]] = {}
    for attr, obj in list(vars(module).items()):
        if not attr.startswith("test_") or not callable(obj):
            continue
        for name, bound in _cases(attr, obj):
            results[name] = harness.run(bound, name=name, nodeid=f"{module.__name__}.py::{name}")
    return results


def _cases(name: str, func: Any) -> list[tuple[str, Any]]:
    marks = [m for m in getattr(func, "pytestmark", []) if m.name == "parametrize"]
    if not marks:
        return [(name, func)]
    (mark,) = marks
    argnames = [a.strip() for a in mark.args[0].split(",")]
    cases = []
    for values in mark.args[1]:
        values = values if isinstance(values, tuple) else (values,)
        case_id = "-".join(str(v) for v in values)
        bound = dict(zip(argnames, values, strict=True))
        rest = [p for p in inspect.signature(func).parameters if p not in bound]

        def call(_func: Any = func, _bound: dict[str, Any] = bound, **kwargs: Any) -> Any:
            return _func(**_bound, **kwargs)

        call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in rest]
        )
        cases.append((f"{name}[{case_id}]", call))
    return cases


def import_path(path: Path) -> Any:
    """Imports a test file by path, as a fresh module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


class RealOutput:
    """What reaches this test's own stdout and stderr (the ``sys`` streams and
    descriptors 1 and 2) inside the ``with`` block, whichever runner runs this
    test. The built-ins under test share their module's state with dbtest's
    own capture fixtures, so a test that dbtest runs cannot watch them with
    ``capsys`` or ``capfd``."""

    def __enter__(self) -> RealOutput:
        sys.stdout.flush()
        sys.stderr.flush()
        self._files = [tempfile.TemporaryFile(buffering=0) for _ in range(2)]  # noqa: SIM115 - closed in __exit__
        self._saved_fds = [os.dup(1), os.dup(2)]
        for fd, file in zip((1, 2), self._files, strict=True):
            os.dup2(file.fileno(), fd)
        self._saved_streams = sys.stdout, sys.stderr
        self._streams = [open(fd, "w", closefd=False, buffering=1) for fd in (1, 2)]  # noqa: SIM115
        sys.stdout, sys.stderr = self._streams
        self._read = [0, 0]
        return self

    def readouterr(self) -> tuple[str, str]:
        """What was written since the last call."""
        for stream in self._streams:
            stream.flush()
        texts = []
        for index, file in enumerate(self._files):
            file.seek(self._read[index])
            texts.append(file.read().decode())
            self._read[index] = file.tell()
        return texts[0], texts[1]

    def __exit__(self, *exc_info: object) -> None:
        for stream in self._streams:
            stream.flush()
        sys.stdout, sys.stderr = self._saved_streams
        for fd, saved in zip((1, 2), self._saved_fds, strict=True):
            os.dup2(saved, fd)
            os.close(saved)
