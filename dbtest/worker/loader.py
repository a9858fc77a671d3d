"""Importing test modules under the name the coordinator resolved for them,
with their asserts rewritten (see `rewrite`)."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from .rewrite import claim, same_file

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ImportMismatch(ImportError):
    """A module of the same name, from another file, is already imported."""


def load_module(ref: dict[str, Any]) -> ModuleType:
    """Imports ``ref["name"]`` with ``ref["import_root"]`` first on ``sys.path``
    (pytest's default ``prepend`` rule), or returns it if already imported.

    Only this module has its asserts rewritten; what it imports loads as usual."""
    name = ref["name"]
    module = sys.modules.get(name)
    if module is None:
        root = ref["import_root"]
        # First on sys.path, as pytest's `prepend` does, even when a .pth file (an
        # editable install, say) already put it further down: a `tests` package
        # of another project must not win.
        if not sys.path or sys.path[0] != root:
            if root in sys.path:  # moved, not repeated: sys.path must not grow per module
                sys.path.remove(root)
            sys.path.insert(0, root)
        claim(name, ref["path"])
        module = importlib.import_module(name)
    file = getattr(module, "__file__", None)
    expected = ref["path"]
    if file is not None and not same_file(file, expected):
        raise ImportMismatch(
            f"import file mismatch: module {name!r} was imported from {file}, "
            f"which is not the test file {expected}; rename one of them or add __init__.py files"
        )
    return module
