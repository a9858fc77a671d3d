"""The ``parser`` a conftest's ``pytest_addoption`` fills: its options (given
on dbtest's command line after ``--``, else their defaults) and ini values."""

from __future__ import annotations

from .pytest_config import NOTSET

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from .pytest_config import Config


class OptionGroup:
    def __init__(self, parser: Parser, name: str) -> None:
        self.parser = parser
        self.name = name

    def addoption(self, *names: str, **attrs: Any) -> None:
        self.parser.addoption(*names, **attrs)

    _addoption = addoption


class Parser:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._options: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def addoption(self, *names: str, **attrs: Any) -> None:
        self._options.append((names, attrs))
        dest = attrs.get("dest") or _dest(names)
        default = attrs.get("default")
        if "default" not in attrs:
            action = attrs.get("action")
            default = False if action == "store_true" else True if action == "store_false" else None
            if action in ("append", "count"):
                default = [] if action == "append" else 0
        self.config.set_option(dest, default)

    _addoption = addoption

    def getgroup(self, name: str, description: str = "", after: str | None = None) -> OptionGroup:
        return OptionGroup(self, name)

    def addini(self, name: str, help: str = "", type: str | None = None, default: Any = NOTSET, **_: Any) -> None:
        self.config._ini_defaults[name] = (default, type)

    def apply(self, args: Sequence[str]) -> None:
        """Sets the options this parser knows from ``args`` (others are left alone)."""
        if not args or not self._options:
            return
        import argparse

        parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
        for names, attrs in self._options:
            kwargs = {k: v for k, v in attrs.items() if k not in ("help",)}
            kwargs.setdefault("dest", _dest(names))
            try:
                parser.add_argument(*names, **kwargs)
            except (TypeError, ValueError, argparse.ArgumentError):
                continue
        namespace, _ = parser.parse_known_args(list(args))
        for dest, value in vars(namespace).items():
            self.config.set_option(dest, value)


def _dest(names: Sequence[str]) -> str:
    long_names = [n for n in names if n.startswith("--")]
    name = long_names[0] if long_names else names[0]
    return name.lstrip("-").replace("-", "_")
