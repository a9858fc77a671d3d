"""``monkeypatch``: pytest's ``MonkeyPatch``, with its API and its messages.

It does not import pytest: a suite's type annotations may name
``pytest.MonkeyPatch``, and nothing checks them at run time.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Generator, Mapping
    from typing import Any


class _NotSet:
    def __repr__(self) -> str:
        return "<notset>"


NOTSET: Any = _NotSet()


def _pytest_warning() -> type[Warning]:
    warning_types = sys.modules.get("_pytest.warning_types")
    return getattr(warning_types, "PytestWarning", UserWarning)


def resolve(name: str) -> object:
    """The object a dotted name refers to, importing modules as needed."""
    import importlib

    parts = name.split(".")
    used = parts.pop(0)
    found: object = importlib.import_module(used)
    for part in parts:
        used += "." + part
        try:
            found = getattr(found, part)
        except AttributeError:
            pass
        else:
            continue
        # Outside the except block, so that the error is not chained to the AttributeError.
        try:
            importlib.import_module(used)
        except ImportError as ex:
            expected = str(ex).split()[-1]
            if expected == used:
                raise
            raise ImportError(f"import error in {used}: {ex}") from ex
        found = annotated_getattr(found, part, used)
    return found


def annotated_getattr(obj: object, name: str, ann: str) -> object:
    try:
        obj = getattr(obj, name)
    except AttributeError as e:
        raise AttributeError(f"{type(obj).__name__!r} object at {ann} has no attribute {name!r}") from e
    return obj


def derive_importpath(import_path: str, raising: bool) -> tuple[str, object]:
    if not isinstance(import_path, str) or "." not in import_path:
        raise TypeError(f"must be absolute import path string, not {import_path!r}")
    module, attr = import_path.rsplit(".", 1)
    target = resolve(module)
    if raising:
        annotated_getattr(target, attr, ann=module)
    return attr, target


class MonkeyPatch:
    """Sets attributes, items, environment variables, ``sys.path`` and the
    working directory, remembering how to undo each change (`undo`)."""

    def __init__(self) -> None:
        self._setattr: list[tuple[object, str, object]] = []
        self._setitem: list[tuple[Any, object, object]] = []
        self._cwd: str | None = None
        self._savesyspath: list[str] | None = None

    @classmethod
    @contextmanager
    def context(cls) -> Generator[MonkeyPatch]:
        """A new `MonkeyPatch` whose changes are undone when the ``with`` block ends."""
        m = cls()
        try:
            yield m
        finally:
            m.undo()

    def setattr(self, target: object, name: object, value: object = NOTSET, raising: bool = True) -> None:
        """Sets ``target.name = value`` (or, given a dotted string and a value,
        the attribute the string names). Raises ``AttributeError`` if the
        attribute does not exist, unless ``raising`` is false."""
        __tracebackhide__ = True
        if value is NOTSET:
            if not isinstance(target, str):
                raise TypeError(
                    "use setattr(target, name, value) or "
                    "setattr(target, value) with target being a dotted "
                    "import string"
                )
            value = name
            name, target = derive_importpath(target, raising)
        elif not isinstance(name, str):
            raise TypeError(
                "use setattr(target, name, value) with name being a string or "
                "setattr(target, value) with target being a dotted "
                "import string"
            )
        oldval = getattr(target, name, NOTSET)
        if raising and oldval is NOTSET:
            raise AttributeError(f"{target!r} has no attribute {name!r}")
        # A class's own __dict__ entry, so that a staticmethod or classmethod
        # is put back as the descriptor it was.
        if isinstance(target, type):
            oldval = target.__dict__.get(name, NOTSET)
        setattr(target, name, value)
        self._setattr.append((target, name, oldval))

    def delattr(self, target: object, name: object = NOTSET, raising: bool = True) -> None:
        """Deletes ``target.name`` (or the attribute a dotted string names).
        Raises ``AttributeError`` if it does not exist, unless ``raising`` is false."""
        __tracebackhide__ = True
        if name is NOTSET:
            if not isinstance(target, str):
                raise TypeError("use delattr(target, name) or delattr(target) with target being a dotted import string")
            name, target = derive_importpath(target, raising)
        assert isinstance(name, str)
        if not hasattr(target, name):
            if raising:
                raise AttributeError(name)
            return
        oldval = getattr(target, name, NOTSET)
        if isinstance(target, type):
            oldval = target.__dict__.get(name, NOTSET)
        self._setattr.append((target, name, oldval))
        delattr(target, name)

    def setitem(self, dic: Mapping[Any, Any], name: object, value: object) -> None:
        """Sets ``dic[name] = value``."""
        self._setitem.append((dic, name, dic.get(name, NOTSET)))
        dic[name] = value  # type: ignore[index]

    def delitem(self, dic: Mapping[Any, Any], name: object, raising: bool = True) -> None:
        """Deletes ``dic[name]``. Raises ``KeyError`` if it is not there, unless ``raising`` is false."""
        if name not in dic:
            if raising:
                raise KeyError(name)
            return
        self._setitem.append((dic, name, dic.get(name, NOTSET)))
        del dic[name]  # type: ignore[attr-defined]

    def setenv(self, name: str, value: str, prepend: str | None = None) -> None:
        """Sets environment variable ``name``; with ``prepend`` (a separator such
        as ``os.pathsep``), ``value`` goes before the current value."""
        if not isinstance(value, str):
            import warnings

            warnings.warn(
                _pytest_warning()(
                    f"Value of environment variable {name} type should be str, but got "
                    f"{value!r} (type: {type(value).__name__}); converted to str implicitly"
                ),
                stacklevel=2,
            )
            value = str(value)
        if prepend and name in os.environ:
            value = value + prepend + os.environ[name]
        self.setitem(os.environ, name, value)

    def delenv(self, name: str, raising: bool = True) -> None:
        """Deletes environment variable ``name``. Raises ``KeyError`` if it is
        not set, unless ``raising`` is false."""
        self.delitem(os.environ, name, raising=raising)

    def syspath_prepend(self, path: object) -> None:
        """Puts ``path`` first on ``sys.path``."""
        if self._savesyspath is None:
            self._savesyspath = sys.path[:]
        sys.path.insert(0, str(path))
        # Namespace packages declared through pkg_resources learn of the new
        # entry only if told (only where pkg_resources is already loaded).
        if "pkg_resources" in sys.modules:
            fixup = getattr(sys.modules["pkg_resources"], "fixup_namespace_packages", None)
            if fixup is not None:
                fixup(str(path))
        # The caller usually means to import files it has just written: the
        # finders' directory caches (mtime based) may not have seen them yet.
        from importlib import invalidate_caches

        invalidate_caches()

    def chdir(self, path: str | os.PathLike[str]) -> None:
        """Changes the working directory to ``path``."""
        if self._cwd is None:
            self._cwd = os.getcwd()
        os.chdir(path)

    def undo(self) -> None:
        """Undoes every change, the latest first. A second call does nothing
        unless more changes were made in between."""
        for obj, name, value in reversed(self._setattr):
            if value is not NOTSET:
                setattr(obj, name, value)
            else:
                delattr(obj, name)
        self._setattr[:] = []
        for dictionary, key, value in reversed(self._setitem):
            if value is NOTSET:
                try:
                    del dictionary[key]
                except KeyError:
                    pass  # already gone: the state wanted
            else:
                dictionary[key] = value
        self._setitem[:] = []
        if self._savesyspath is not None:
            sys.path[:] = self._savesyspath
            self._savesyspath = None
        if self._cwd is not None:
            os.chdir(self._cwd)
            self._cwd = None
