"""Keeping tests from leaking into each other within one worker.

After every test the worker puts back what the test changed of:

- the working directory;
- ``sys.path`` (its exact contents and order);
- ``os.environ`` (added, changed and removed variables);
- ``sys.modules`` entries the test added for modules that the import system, as
  restored, would not find again where they came from (modules from a temporary
  directory the test put on ``sys.path``, or module objects it inserted by
  hand). Modules imported normally stay, including those an import hook provides
  (editable installs, ``six.moves``): importing a library twice would break it
  (two copies of each class) and cost time.

The state a test starts from is taken after its module imported and its module
and class fixtures ran, so what ``setUpModule``/``setUpClass`` set up is kept for
every test that follows. Each check is a comparison that costs well under a
microsecond when the test changed nothing (the snapshot itself is taken once
per batch or fixture change, not per test).
"""

from __future__ import annotations

import os
import sys

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _environ_data() -> dict[Any, Any]:
    # Comparing the underlying dict is a C-level operation; os.environ itself is a
    # Python mapping whose comparison walks it in Python.
    return getattr(os.environ, "_data", os.environ)


class Isolation:
    def __init__(self) -> None:
        self.snapshot()

    def snapshot(self) -> None:
        """Takes the current state as the one to return to after each test."""
        try:
            self.cwd = os.getcwd()
        except FileNotFoundError:  # the directory was removed under us
            self.cwd = self.cwd if hasattr(self, "cwd") else "/"
        self.path = list(sys.path)
        self.environ = dict(_environ_data())
        self.module_count = len(sys.modules)
        self.module_names = frozenset(sys.modules)

    def restore(self) -> None:
        try:
            moved = os.getcwd() != self.cwd
        except FileNotFoundError:
            moved = True
        if moved:
            try:
                os.chdir(self.cwd)
            except OSError:
                pass
        if sys.path != self.path:
            sys.path[:] = self.path
        if _environ_data() != self.environ:
            self._restore_environ()
        if len(sys.modules) != self.module_count:
            self._drop_unimportable_modules()

    def _restore_environ(self) -> None:
        data = _environ_data()
        for key in [k for k in data if k not in self.environ]:
            name = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
            os.environ.pop(name, None)
        for key, value in self.environ.items():
            if data.get(key) != value:
                name = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
                text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
                os.environ[name] = text

    def _drop_unimportable_modules(self) -> None:
        roots = [os.path.join(os.path.abspath(p), "") for p in self.path if isinstance(p, str)]
        # Parents first: a package that goes takes its submodules with it.
        for name in sorted(n for n in list(sys.modules) if n not in self.module_names):
            module = sys.modules.get(name)
            if not (_under_roots(module, roots) or _findable(name, module)):
                sys.modules.pop(name, None)
        self.module_count = len(sys.modules)
        self.module_names = frozenset(sys.modules)


def _under_roots(module: Any, roots: list[str]) -> bool:
    """Whether ``module`` comes from a file under one of ``roots`` (or is built in):
    the quick answer for nearly every module."""
    if module is None:
        return False
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if origin in ("built-in", "frozen"):
        return True
    locations = []
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        locations.append(file)
    locations.extend(p for p in getattr(module, "__path__", None) or () if isinstance(p, str))
    if not locations:
        return False
    for location in locations:
        location = os.path.abspath(location)
        if any(location.startswith(root) for root in roots):
            return True
    return False


def _findable(name: str, module: Any) -> bool:
    """Whether the import hooks (``sys.meta_path``) would find ``name`` again at
    the same origin, as they did for an editable install's finder."""
    if module is None:
        return False
    parent_name = name.rpartition(".")[0]
    path = None
    if parent_name:
        parent = sys.modules.get(parent_name)
        path = getattr(parent, "__path__", None)
        if path is None:
            return False
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(name, path, None)
        except Exception:  # noqa: BLE001 - a broken hook answers nothing
            continue
        if spec is not None:
            return spec.origin == origin
    return False
