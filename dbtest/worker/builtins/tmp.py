"""``tmp_path_factory``, ``tmp_path`` and their ``py.path`` flavours.

Every directory lives under the run's base temporary directory, which the
coordinator creates and shares with all workers (and prunes, keeping the last
runs, as pytest keeps its ``pytest-<N>`` directories). Numbered directories are
claimed with ``os.mkdir``, which fails if another worker got there first: the
loser takes the next number.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# pytest's limit on the part of a test's name in its tmp_path.
MAX_NAME = 30
_NON_WORD = re.compile(r"[\W]")


def tmp_name(test_name: str) -> str:
    """The prefix of a test's tmp_path, as pytest makes it (``test_x[1-a]`` -> ``test_x_1_a_``, numbered after)."""
    return _NON_WORD.sub("_", test_name)[:MAX_NAME]


def _number(suffix: str) -> int:
    try:
        return int(suffix)
    except ValueError:
        return -1


def make_numbered_dir(root: Path, prefix: str, mode: int = 0o700) -> Path:
    """Creates ``root/<prefix><N>`` with N above every number in use (as pytest's
    ``make_numbered_dir``), retrying while other processes take the numbers."""
    lowered = prefix.lower()
    size = len(prefix)
    for _ in range(1000):
        highest = -1
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.name.lower().startswith(lowered):
                    highest = max(highest, _number(entry.name[size:]))
        path = root / f"{prefix}{highest + 1}"
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            continue  # another worker took this number
        _point_current(root, prefix + "current", path)
        return path
    raise OSError(f"could not create numbered dir with prefix {prefix} in {root} after 1000 tries")


def _point_current(root: Path, name: str, target: Path) -> None:
    # pytest's "<prefix>current" link to the newest directory: best effort,
    # as concurrent workers may replace it in between.
    link = root / name
    try:
        os.unlink(link)
    except OSError:
        pass
    try:
        os.symlink(target, link)
    except OSError:
        pass


class TempPathFactory:
    """pytest's ``TempPathFactory``: directories under the run's base temporary directory."""

    def __init__(self, basetemp: Path | None) -> None:
        self._given_basetemp = basetemp
        self._basetemp: Path | None = None

    def getbasetemp(self) -> Path:
        """The base temporary directory (shared by the run's workers)."""
        if self._basetemp is not None:
            return self._basetemp
        if self._given_basetemp is not None:
            basetemp = Path(self._given_basetemp)
            basetemp.mkdir(mode=0o700, parents=True, exist_ok=True)
        else:
            # No base from the coordinator (a fixture used outside a run): one
            # of this process's own.
            import tempfile

            basetemp = Path(tempfile.mkdtemp(prefix="dbtest-"))
        self._basetemp = basetemp.resolve()
        return self._basetemp

    def _ensure_relative_to_basetemp(self, basename: str) -> str:
        basename = os.path.normpath(basename)
        if (self.getbasetemp() / basename).resolve().parent != self.getbasetemp():
            raise ValueError(f"{basename} is not a normalized and relative path")
        return basename

    def mktemp(self, basename: str, numbered: bool = True) -> Path:
        """A new directory ``basename`` under the base, numbered (``basename0``,
        ``basename1``...) unless ``numbered`` is false."""
        basename = self._ensure_relative_to_basetemp(basename)
        if not numbered:
            path = self.getbasetemp().joinpath(basename)
            path.mkdir(mode=0o700)
            return path
        return make_numbered_dir(self.getbasetemp(), basename)

    def __repr__(self) -> str:
        return f"<TempPathFactory basetemp={self._basetemp or self._given_basetemp}>"


def legacy_path(path: Path) -> Any:
    """``py.path.local`` where pytest is already loaded (its ``LEGACY_PATH``), else the ``pathlib.Path`` itself."""
    compat = sys.modules.get("_pytest.compat")
    local = getattr(compat, "LEGACY_PATH", None)
    return local(path) if local is not None else path


class TempdirFactory:
    """pytest's ``TempdirFactory``: `TempPathFactory` returning ``py.path.local`` objects."""

    def __init__(self, factory: TempPathFactory) -> None:
        self._tmppath_factory = factory

    def mktemp(self, basename: str, numbered: bool = True) -> Any:
        return legacy_path(self._tmppath_factory.mktemp(basename, numbered).resolve())

    def getbasetemp(self) -> Any:
        return legacy_path(self._tmppath_factory.getbasetemp().resolve())

    def __repr__(self) -> str:
        return f"<TempdirFactory {self._tmppath_factory!r}>"
