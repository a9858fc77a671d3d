"""What fixtures and hooks see of pytest's collection tree: the test item
(``request.node`` of a function-scoped fixture, with its marks, keywords and
``callspec``) and the module, class or session node of a broader scope.
"""

from __future__ import annotations

from pathlib import Path

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType
    from typing import Any

    from .parametrize import Case
    from .pytest_config import Config


class Mark:
    """A mark added at run time (``request.applymarker``, ``node.add_marker``)
    when the caller passes a name rather than pytest's own mark object."""

    def __init__(self, name: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs or {}


def _as_mark(marker: Any) -> Any:
    if isinstance(marker, str):
        return Mark(marker)
    return getattr(marker, "mark", marker)


class _Node:
    """What every node does with its marks, as pytest's ``Node``: the node's
    own (``own_markers``) and their names among its ``keywords``."""

    own_markers: list[Any]

    def iter_markers(self, name: str | None = None) -> Iterator[Any]:
        return (m for m in self.own_markers if name is None or getattr(m, "name", None) == name)

    def get_closest_marker(self, name: str, default: Any = None) -> Any:
        return next(self.iter_markers(name), default)

    def add_marker(self, marker: Any, append: bool = True) -> None:
        self._add_marker(marker, append)

    def _add_marker(self, marker: Any, append: bool) -> Any:
        mark = _as_mark(marker)
        if append:
            self.own_markers.append(mark)
        else:
            self.own_markers.insert(0, mark)
        self.keywords[mark.name] = mark  # type: ignore[attr-defined]
        return mark

    def listchain(self) -> list[Any]:
        return [self]


class ScopeNode(_Node):
    """``request.node`` of a fixture of module, class, package or session
    scope: the module or class (or the session)."""

    def __init__(self, name: str, nodeid: str, obj: Any, path: Path | None, config: Config, marks: list[Any]) -> None:
        self.name = name
        self.nodeid = nodeid
        self.obj = obj
        self.path = path
        self.fspath = path
        self.config = config
        self.own_markers = marks
        self.keywords = {name: True, **{m.name: m for m in marks if hasattr(m, "name")}}
        self.stash: dict[Any, Any] = {}

    @property
    def module(self) -> Any:
        return self.obj if self.obj is not None and not isinstance(self.obj, type) else None

    @property
    def cls(self) -> Any:
        return self.obj if isinstance(self.obj, type) else None


class Item(_Node):
    """The test item (``request.node``): its name, id, marks and objects."""

    def __init__(
        self,
        name: str,
        nodeid: str,
        module: ModuleType,
        cls: type | None,
        function: Any,
        marks: list[Any],
        config: Config,
        case: Case | None,
    ) -> None:
        self.name = name
        self.originalname = name.partition("[")[0].rpartition("::")[2]
        self.nodeid = nodeid
        self.module = module
        self.cls = cls
        self.function = function
        self.obj = function
        self.instance: Any = None
        self.config = config
        self.own_markers = list(marks)
        self.user_properties: list[tuple[str, Any]] = []
        self.funcargs: dict[str, Any] = {}
        self.fixturenames: list[str] = []
        self.stash: dict[Any, Any] = {}
        self._keywords: dict[str, Any] | None = None
        self.callspec = _CallSpec(case) if case is not None else None
        # pytest 9's `subtests` fixture reports here (see testcase.py's counterpart).
        self.subtests_passed = 0
        self.subtest_failures: list[tuple[str, Any]] = []
        # Marks added while the test is set up (`request.applymarker`).
        self.added_marks: list[Any] = []

    # Made when asked for: most tests never are.

    @property
    def path(self) -> Path:
        return Path(getattr(self.module, "__file__", "") or "")

    @property
    def fspath(self) -> Path:
        return self.path

    @property
    def location(self) -> tuple[str, int, str]:
        return (str(self.path), 0, self.name)

    @property
    def keywords(self) -> dict[str, Any]:
        """The test's name, its function's, and its marks' names (what ``-k`` and ``in`` look at)."""
        keywords = self._keywords
        if keywords is None:
            keywords = self._keywords = {self.name: True, self.originalname: True}
            for mark in self.own_markers:
                mark_name = getattr(mark, "name", None)
                if isinstance(mark_name, str):
                    keywords.setdefault(mark_name, mark)
        return keywords

    def iter_markers_with_node(self, name: str | None = None) -> Iterator[tuple[Any, Any]]:
        return ((self, m) for m in self.iter_markers(name))

    def add_marker(self, marker: Any, append: bool = True) -> None:
        self.added_marks.append(self._add_marker(marker, append))

    def listextrakeywords(self) -> set[str]:
        return set()

    def add_report_section(self, when: str, key: str, content: str) -> None:
        return None

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name


class _CallSpec:
    """``item.callspec``: a parametrized case's arguments and id."""

    def __init__(self, case: Case) -> None:
        self.params = dict(case.params)
        self.id = case.id

    def getparam(self, name: str) -> Any:
        return self.params[name]
