"""``cache``: pytest's ``Cache``, kept in dbtest's cache directory.

Values live in ``<cache_dir>/cache/v/<key>`` as JSON, directories made by
``mkdir`` in ``<cache_dir>/cache/d/<name>`` (pytest's layout under
``.pytest_cache``). With the cache off (``--no-cache``) they live under the
run's base temporary directory instead, shared by the run's workers and gone
with it. Several workers may write at once: a value is written to a file of
the writer's own and renamed over the old one, so a reader sees the old value
or the new one, never half of one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_VALUES = "v"
_DIRS = "d"
_writes = 0


def _cache_warning() -> type[Warning]:
    warning_types = sys.modules.get("_pytest.warning_types")
    return getattr(warning_types, "PytestCacheWarning", UserWarning)


class Cache:
    """Values and directories that persist from one run to the next."""

    def __init__(self, cachedir: Path) -> None:
        self._cachedir = cachedir

    @classmethod
    def for_config(cls, config: Any) -> Cache:
        """``<cache_dir>/cache``, or ``<basetemp>/dbtest-cache`` with the cache off."""
        if config.cache_dir is not None:
            return cls(Path(config.cache_dir) / "cache")
        basetemp = getattr(config, "basetemp", None)
        if basetemp is None:
            import tempfile

            basetemp = tempfile.mkdtemp(prefix="dbtest-")
        # A '-' never appears in a tmp_path's directory name.
        return cls(Path(basetemp) / "dbtest-cache")

    @staticmethod
    def _join_within(base: Path, name: str) -> Path:
        # An absolute name or `..` must not escape the cache; a `..` that stays
        # inside is fine.
        path = Path(os.path.normpath(base.joinpath(name)))
        if not path.is_relative_to(base):
            raise ValueError(f"{name!r} is not allowed to escape the cache directory")
        return path

    def mkdir(self, name: str) -> Path:
        """The directory ``name`` (a single path component) in the cache, created if needed."""
        if len(Path(name).parts) > 1:
            raise ValueError("name is not allowed to contain path separators")
        path = self._join_within(self._cachedir / _DIRS, name)
        path.mkdir(exist_ok=True, parents=True)
        return path

    def makedir(self, name: str) -> Any:
        """`mkdir`, as a ``py.path.local`` where pytest is loaded (pytest's legacy API)."""
        from .tmp import legacy_path

        return legacy_path(self.mkdir(name))

    def _getvaluepath(self, key: str) -> Path:
        return self._join_within(self._cachedir / _VALUES, key)

    def get(self, key: str, default: Any) -> Any:
        """The value stored under ``key`` (``/``-separated, usually starting with
        the plugin's or project's name), or ``default`` if there is none or it
        cannot be read."""
        import json

        path = self._getvaluepath(key)
        try:
            with path.open("r", encoding="UTF-8") as f:
                return json.load(f)
        except (ValueError, OSError):
            return default

    def set(self, key: str, value: object) -> None:
        """Stores ``value`` (anything ``json`` can write) under ``key``."""
        import json
        import warnings

        global _writes
        path = self._getvaluepath(key)
        try:
            path.parent.mkdir(exist_ok=True, parents=True)
        except OSError as exc:
            warnings.warn(_cache_warning()(f"could not create cache path {path}: {exc}"), stacklevel=2)
            return
        data = json.dumps(value, ensure_ascii=False, indent=2)
        _writes += 1
        partial = path.with_name(f".{path.name}.{os.getpid()}.{_writes}.tmp")
        try:
            with partial.open("w", encoding="UTF-8") as f:
                f.write(data)
            os.replace(partial, path)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            warnings.warn(_cache_warning()(f"cache could not write path {path}: {exc}"), stacklevel=2)

    def __repr__(self) -> str:
        return f"<Cache {self._cachedir}>"
