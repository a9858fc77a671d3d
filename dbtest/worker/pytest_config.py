"""What conftests and fixtures see of pytest's configuration: ``request.config``
and ``pytestconfig`` (options, ini values, ``rootpath``), with the little of the
plugin manager and the invocation they ask about.

dbtest's own objects with the attributes and methods of pytest's that suites
use; anything else is missing on purpose rather than faked.
"""

from __future__ import annotations

from pathlib import Path

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# "No default given": `getoption`'s, and `addini`'s (where None is a default).
NOTSET: Any = object()


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

    def add_hookspecs(self, module_or_class: Any) -> None:
        """A plugin's own hooks (pytest-asyncio declares some as it adds its
        options): dbtest calls no plugin-defined hook, so there is nothing to
        declare them to."""
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

    def getoption(self, name: str, default: Any = NOTSET, skip: bool = False) -> Any:
        """An option's value (``--runslow`` and ``runslow`` both name one)."""
        key = name.lstrip("-").replace("-", "_")
        if key in self._options:
            value = self._options[key]
            if value is None and skip:
                _skip(f"no {name!r} option found")
            return value
        if default is not NOTSET:
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
                # A default given, None included, is what pytest gives back
                # (pytest-asyncio's `asyncio_default_fixture_loop_scope`).
                return _empty(kind) if default is NOTSET else default
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
