"""pytest's warning filters, applied around each test as pytest applies them.

pytest runs every test (and every import of a test module) inside
``warnings.catch_warnings``, with ``DeprecationWarning`` and
``PendingDeprecationWarning`` always shown, then its ``filterwarnings``
setting, then ``-W`` options, then the test's ``filterwarnings`` marks (the
last filter added wins). An ``error`` filter turns a matching warning into an
exception, which fails the test; that is the behaviour suites rely on. Without
any configured filter or mark there is nothing to change a test's outcome, so
the worker then skips the context entirely (it costs microseconds per test).
"""

from __future__ import annotations

import sys
import warnings

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    Filter = tuple[str, str, type[Warning], str, int]


class FilterError(Exception):
    """A warning filter pytest would refuse (the message says which and why)."""


def parse(text: str, escape: bool) -> Filter:
    """pytest's ``parse_warning_filter``: ``action:message:category:module:line``."""
    parts = text.split(":")
    if len(parts) > 5:
        raise FilterError(f"{text}: too many fields ({len(parts)}), expected at most 5 separated by colons")
    parts += [""] * (5 - len(parts))
    action_text, message, category_text, module, line_text = (p.strip() for p in parts)
    try:
        action = warnings._getaction(action_text)  # type: ignore[attr-defined]
    except warnings._OptionError as exc:  # type: ignore[attr-defined]
        raise FilterError(f"{text}: {exc}") from None
    category = _category(category_text, text)
    import re

    if message and escape:
        message = re.escape(message)
    if module and escape:
        module = re.escape(module) + r"\Z"
    try:
        line = int(line_text) if line_text else 0
        if line < 0:
            raise ValueError("number is negative")
    except ValueError as exc:
        raise FilterError(f"{text}: invalid lineno {line_text!r}: {exc}") from None
    return action, message, category, module, line


def _category(name: str, text: str) -> type[Warning]:
    if not name:
        return Warning
    if "." in name:
        import importlib

        module_name, _, attribute = name.rpartition(".")
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError as exc:
            raise FilterError(f"{text}: cannot import {module_name}: {exc}") from None
    else:
        import builtins

        owner, attribute = builtins, name
    category = getattr(owner, attribute, None)
    if not (isinstance(category, type) and issubclass(category, Warning)):
        raise FilterError(f"{text}: {name} is not a Warning subclass")
    return category


class WarningFilters:
    """The configured filters (``filterwarnings``, then ``-W``), parsed once."""

    def __init__(self, config_filters: Sequence[str], cmdline_filters: Sequence[str]) -> None:
        self.texts = (tuple(config_filters), tuple(cmdline_filters))
        self._parsed: list[Filter] | None = None

    @property
    def active(self) -> bool:
        return any(self.texts)

    def parsed(self) -> list[Filter]:
        """Parsed on first use: a category may live in the project's own modules."""
        if self._parsed is None:
            config_filters, cmdline_filters = self.texts
            self._parsed = [parse(t, escape=False) for t in config_filters]
            self._parsed += [parse(t, escape=True) for t in cmdline_filters]
        return self._parsed


class Applied:
    """``with Applied(filters, marks):`` the warning filters of one test."""

    __slots__ = ("_catcher", "filters", "marks")

    def __init__(self, filters: WarningFilters, marks: Sequence[Any]) -> None:
        self.filters = filters
        self.marks = marks
        self._catcher: Any = None

    def __enter__(self) -> None:
        self._catcher = warnings.catch_warnings(record=True)
        self._catcher.__enter__()
        if not sys.warnoptions:
            warnings.filterwarnings("always", category=DeprecationWarning)
            warnings.filterwarnings("always", category=PendingDeprecationWarning)
        for action, message, category, module, line in self.filters.parsed():
            warnings.filterwarnings(action, message, category, module, line)  # type: ignore[arg-type]
        for mark in self.marks:
            for text in getattr(mark, "args", ()):
                action, message, category, module, line = parse(text, escape=False)
                warnings.filterwarnings(action, message, category, module, line)  # type: ignore[arg-type]

    def __exit__(self, *exc_info: object) -> None:
        self._catcher.__exit__(*exc_info)


def marks_of(marks: Sequence[Any]) -> list[Any]:
    """The ``filterwarnings`` marks among a test's marks (closest first)."""
    return [m for m in marks if getattr(m, "name", None) == "filterwarnings"]
