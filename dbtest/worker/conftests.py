"""``conftest.py`` files and pytest plugins: where fixtures and hooks come from
besides the test module itself.

As pytest does, every ``conftest.py`` from the rootdir down to a test
module's directory is imported before the module (once per worker, with its
asserts rewritten), under pytest's ``prepend`` rule: as ``conftest`` with its
directory first on ``sys.path`` when that directory is not a package (the
previous ``conftest`` module is forgotten first: they all share the name), or
under its package's dotted name. A conftest's ``pytest_configure`` runs when it
is imported; the root conftest's ``pytest_plugins`` modules are imported as
plugins. Installed plugins (entry point group ``pytest11``) are imported only
when a test requests a fixture nothing else defines, since importing them all
would cost every worker their start-up.
"""

from __future__ import annotations

import os
import sys

from .fixtures import FixtureSet, definitions_in

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

# Installed plugins that define no fixtures a test can request, and that are
# slow or have side effects when imported.
# pytest-benchmark's plugin: dbtest's own `benchmark` fixture takes its place
# (it measures under `dbtest bench`, where the plugin would switch itself off).
_SKIPPED_PLUGINS = frozenset(
    {"xdist.plugin", "xdist.looponfail", "pytest_cov.plugin", "pytest_randomly", "pytest_benchmark.plugin"}
)

# Hooks dbtest runs; any other a conftest defines is named once in a warning.
RUN_HOOKS = frozenset(
    {
        "pytest_configure",
        "pytest_addoption",
        "pytest_generate_tests",
        "pytest_ignore_collect",
        "pytest_collection_modifyitems",
        "pytest_runtest_setup",
        "pytest_runtest_teardown",
        "pytest_runtest_call",
        "pytest_unconfigure",
        "pytest_sessionstart",
        "pytest_sessionfinish",
    }
)


class ConftestError(Exception):
    """A conftest that failed to import: every test under it errors with this."""

    def __init__(self, path: str, cause: BaseException) -> None:
        super().__init__(f"cannot import conftest {path}: {type(cause).__name__}: {cause}")
        self.path = path
        self.cause = cause


class Plugins:
    """Where fixtures and hooks are defined, per directory, for one worker."""

    def __init__(self, rootdir: str, configure: Callable[[ModuleType, bool], None], builtins: FixtureSet) -> None:
        self.rootdir = os.path.abspath(rootdir)
        self._configure = configure
        # The built-ins, then plugins (pytest_plugins, installed ones when needed).
        self.base = FixtureSet(builtins, ())
        self._installed_loaded = False
        # Per directory: its conftest's fixture set (chained to its parent's), or
        # the failure of importing it.
        self._dirs: dict[str, FixtureSet | ConftestError] = {}
        # Conftest modules with the directory each applies to, root first.
        self.conftests: list[tuple[str, ModuleType]] = []
        self.unknown_hooks: list[str] = []

    # -- conftests -------------------------------------------------------------

    def place_for(self, module_path: str) -> FixtureSet:
        """The fixtures visible to a module in ``module_path`` from conftests and
        plugins. Raises `ConftestError` if one of its conftests failed."""
        directory = os.path.dirname(os.path.abspath(module_path))
        found = self._dirs.get(directory)
        if found is None:
            found = self._load_dir(directory)
        if isinstance(found, ConftestError):
            raise found
        return found

    def _load_dir(self, directory: str) -> FixtureSet | ConftestError:
        parent_dir = os.path.dirname(directory)
        inside = directory == self.rootdir or directory.startswith(self.rootdir + os.sep)
        if not inside or parent_dir == directory:
            found: FixtureSet | ConftestError = self.base
        else:
            parent = (
                self.base if directory == self.rootdir else (self._dirs.get(parent_dir) or self._load_dir(parent_dir))
            )
            if isinstance(parent, ConftestError):
                found = parent
            else:
                path = os.path.join(directory, "conftest.py")
                found = parent
                if os.path.isfile(path):
                    try:
                        module = self._import(path)
                    except BaseException as exc:  # noqa: BLE001 - reported on every test under it
                        found = ConftestError(path, exc)
                    else:
                        found = FixtureSet(parent, definitions_in(module, is_class=False))
                        self.conftests.append((directory, module))
                        if directory == self.rootdir:
                            self._load_named_plugins(module)
                        self._configure(module, True)
        self._dirs[directory] = found
        return found

    def _import(self, path: str) -> ModuleType:
        import importlib

        from .rewrite import claim

        directory = os.path.dirname(path)
        name, root = _module_name(directory, "conftest")
        if root == directory:
            sys.modules.pop("conftest", None)
        if not sys.path or sys.path[0] != root:
            if root in sys.path:
                sys.path.remove(root)
            sys.path.insert(0, root)
        claim(name, path)
        module = importlib.import_module(name)
        sys.modules.setdefault(f"dbtest.conftest:{path}", module)
        return module

    # -- plugins ---------------------------------------------------------------

    def _load_named_plugins(self, conftest: ModuleType) -> None:
        """The root conftest's ``pytest_plugins``: modules imported as plugins."""
        names = getattr(conftest, "pytest_plugins", ())
        if isinstance(names, str):
            names = [names]
        import importlib

        for name in names:
            module = importlib.import_module(name)
            self._add_plugin(module)

    def _add_plugin(self, module: ModuleType) -> None:
        """A plugin's fixtures are visible everywhere, below every conftest."""
        self.base.defs.update(
            {d.name: d for d in definitions_in(module, is_class=False) if d.name not in self.base.defs}
        )
        for definition in self.base.defs.values():
            if definition.autouse and definition.name not in self.base.autouse:
                self.base.autouse.append(definition.name)
        self._configure(module, False)

    def load_installed(self) -> bool:
        """Imports installed pytest plugins (entry points ``pytest11``), once; whether
        that was news (callers then look again for what they missed)."""
        if self._installed_loaded:
            return False
        self._installed_loaded = True
        try:
            from importlib.metadata import entry_points

            points = entry_points(group="pytest11")
        except Exception:  # noqa: BLE001 - broken metadata: no plugins
            return False
        loaded = False
        for point in points:
            if point.value.split(":")[0] in _SKIPPED_PLUGINS:
                continue
            try:
                module = point.load()
            except Exception:  # noqa: BLE001 - a plugin that cannot load offers nothing
                continue
            if hasattr(module, "__dict__"):
                self._add_plugin(module)
                loaded = True
        for place in self._dirs.values():
            if isinstance(place, FixtureSet):
                place.forget_closures()
        return loaded

    # -- hooks -----------------------------------------------------------------

    def hooks(self, name: str, module_path: str) -> list[Callable[..., Any]]:
        """The conftest hooks called ``name`` that apply to a module: those of
        conftests in its directory and above, innermost first (as pytest calls them)."""
        directory = os.path.dirname(os.path.abspath(module_path))
        found = []
        for conftest_dir, module in reversed(self.conftests):
            if directory == conftest_dir or directory.startswith(conftest_dir + os.sep):
                hook = getattr(module, name, None)
                if callable(hook):
                    found.append(hook)
        return found


def _module_name(directory: str, stem: str) -> tuple[str, str]:
    """(dotted name, sys.path root) of module ``stem`` in ``directory``, as
    pytest's ``prepend`` import mode names it: within its packages."""
    parts = [stem]
    root = directory
    while os.path.isfile(os.path.join(root, "__init__.py")):
        parent, package = os.path.split(root)
        if parent == root:
            break
        parts.append(package)
        root = parent
    parts.reverse()
    return ".".join(parts), root
