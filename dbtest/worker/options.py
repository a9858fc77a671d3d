"""What pytest's configuration says about running tests, as the coordinator
sent it (``config.pytest``, see `workers/PROTOCOL.md`): which names are tests,
how parametrized ids are made, the default strictness of ``xfail``, warning
filters. One instance per worker, set once from the ``config`` message;
until then pytest's defaults (what a project without pytest configuration
gets)."""

from __future__ import annotations

from . import protocol
from .parametrize import IdOptions
from .warnfilters import WarningFilters

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Options:
    __slots__ = (
        "basetemp",
        "classes",
        "extra_args",
        "functions",
        "ids",
        "ini",
        "inifile",
        "pythonpath",
        "strict_markers",
        "usefixtures",
        "warnings",
        "xfail_strict",
    )

    def __init__(self, message: dict[str, Any]) -> None:
        self.xfail_strict: bool = message["xfail_strict"]
        self.warnings = WarningFilters(message["filterwarnings"], message["warning_filters"])
        self.ids = IdOptions(
            escape=message["escape_ids"],
            long_strings=message["long_str_strategy"],
            strict=message["strict_parametrization_ids"],
            empty_set=message["empty_parameter_set_mark"],
        )
        self.classes: tuple[str, ...] = tuple(message["python_classes"])
        self.functions: tuple[str, ...] = tuple(message["python_functions"])
        self.pythonpath: tuple[str, ...] = tuple(message["pythonpath"])
        self.usefixtures: tuple[str, ...] = tuple(message["usefixtures"])
        self.strict_markers: bool = message["strict_markers"]
        self.inifile: str | None = message["inifile"]
        self.ini: dict[str, Any] = dict(message["ini"])
        self.extra_args: tuple[str, ...] = tuple(message["extra_args"])
        self.basetemp: str = message["basetemp"]

    def is_test_function(self, name: str) -> bool:
        return _matches(name, self.functions)

    def is_test_class(self, name: str) -> bool:
        return _matches(name, self.classes)


def _matches(name: str, options: tuple[str, ...]) -> bool:
    """pytest's ``_matches_prefix_or_glob_option``: a prefix, or an fnmatch pattern."""
    for option in options:
        if name.startswith(option):
            return True
        if ("*" in option or "?" in option or "[" in option) and _fnmatch(name, option):
            return True
    return False


def _fnmatch(name: str, pattern: str) -> bool:
    import fnmatch  # only projects with patterns among their name rules pay for it

    return fnmatch.fnmatchcase(name, pattern)


current = Options(protocol.pytest_options())


def configure(message: dict[str, Any]) -> None:
    """Takes the coordinator's ``config.pytest``."""
    global current
    current = Options(message)
