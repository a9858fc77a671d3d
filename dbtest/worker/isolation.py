"""Keeping tests from leaking into each other within one worker.

A snapshot records the state a test starts from:

- the working directory;
- ``sys.path`` (its exact contents and order);
- ``os.environ`` (added, changed and removed variables);
- the names in ``sys.modules``.

Each node of the scope stack (`scopes`) holds the snapshot taken when it had
finished setting up, so what ``setUpModule``/``setUpClass`` set up is kept for
every test under them. After a test the worker restores the innermost node's
snapshot; after a node is torn down, its parent's. Restoring drops the
``sys.modules`` entries added since that the import system, as restored, would
not find again where they came from (modules from a temporary directory put on
``sys.path``, or module objects inserted by hand). Modules imported normally
stay, including those an import hook provides (editable installs,
``six.moves``): importing a library twice would break it (two copies of each
class) and cost time.

Each check is a comparison that costs well under a microsecond when nothing
changed; snapshots are taken when a scope is set up, not per test.
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


class Snapshot:
    """The process state a scope's tests start from."""

    __slots__ = ("cwd", "environ", "module_count", "module_names", "path")

    def __init__(self, cwd: str, path: list[Any], environ: dict[Any, Any], module_names: frozenset[str]) -> None:
        self.cwd = cwd
        self.path = path
        self.environ = environ
        self.module_names = module_names
        self.module_count = len(module_names)


def take(fallback_cwd: str = "/") -> Snapshot:
    """The current state (``fallback_cwd`` if the working directory was removed)."""
    try:
        cwd = os.getcwd()
    except FileNotFoundError:
        cwd = fallback_cwd
    return Snapshot(cwd, list(sys.path), dict(_environ_data()), frozenset(sys.modules))


def restore(snapshot: Snapshot) -> None:
    """Puts back what changed since ``snapshot`` was taken."""
    try:
        moved = os.getcwd() != snapshot.cwd
    except FileNotFoundError:
        moved = True
    if moved:
        try:
            os.chdir(snapshot.cwd)
        except OSError:
            pass
    if sys.path != snapshot.path:
        sys.path[:] = snapshot.path
    if _environ_data() != snapshot.environ:
        _restore_environ(snapshot.environ)
    if len(sys.modules) != snapshot.module_count:
        _drop_unimportable_modules(snapshot)


def absorb(snapshots: list[Snapshot]) -> None:
    """Makes what changed since the last of ``snapshots`` part of all of them.

    The last one becomes the current state; in the others only what changed is
    replaced, so that what they differ in from it stays theirs. A snapshot
    listed more than once (shared by nodes) is updated once.
    """
    base = snapshots[-1]
    now = take(base.cwd)
    seen = {id(base)}
    for snapshot in snapshots[:-1]:
        if id(snapshot) not in seen:
            seen.add(id(snapshot))
            _merge(snapshot, base, now)
    base.cwd, base.path, base.environ = now.cwd, now.path, now.environ
    base.module_names, base.module_count = now.module_names, now.module_count


def _merge(snapshot: Snapshot, base: Snapshot, now: Snapshot) -> None:
    """Applies to ``snapshot`` the changes from ``base`` to ``now``."""
    if now.cwd != base.cwd:
        snapshot.cwd = now.cwd
    if now.path != base.path:
        if snapshot.path == base.path:
            snapshot.path = list(now.path)
        else:
            # Entries that appeared go first (as an import root does), those that
            # went are dropped; the rest keep their order.
            added = [p for p in now.path if p not in base.path]
            snapshot.path = added + [p for p in snapshot.path if p in now.path and p not in added]
    if now.environ != base.environ:
        environ = snapshot.environ
        for key in base.environ.keys() - now.environ.keys():
            environ.pop(key, None)
        for key, value in now.environ.items():
            if base.environ.get(key) != value:
                environ[key] = value
    if now.module_names != base.module_names:
        snapshot.module_names = snapshot.module_names | (now.module_names - base.module_names)
        snapshot.module_count = len(snapshot.module_names)


def _restore_environ(saved: dict[Any, Any]) -> None:
    data = _environ_data()
    for key in [k for k in data if k not in saved]:
        name = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
        os.environ.pop(name, None)
    for key, value in saved.items():
        if data.get(key) != value:
            name = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
            text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
            os.environ[name] = text


def _drop_unimportable_modules(snapshot: Snapshot) -> None:
    roots = [os.path.join(os.path.abspath(p), "") for p in snapshot.path if isinstance(p, str)]
    # Parents first: a package that goes takes its submodules with it.
    for name in sorted(n for n in list(sys.modules) if n not in snapshot.module_names):
        module = sys.modules.get(name)
        if not (_under_roots(module, roots) or _findable(name, module)):
            sys.modules.pop(name, None)
    # What stays is part of the snapshot from now on: the next restore need not look again.
    snapshot.module_names = frozenset(sys.modules)
    snapshot.module_count = len(snapshot.module_names)


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
