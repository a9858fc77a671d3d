"""The installed native module ``dbtest._core``, for tests that call the Rust library directly.

``python -m pytest`` run from the repository root puts the root first on ``sys.path``, so ``import dbtest``
finds the source tree, which has no compiled ``_core``. The installed package's directory is then added to
the package's search path, so that ``dbtest._core`` resolves to the installed extension module.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType

import dbtest


def load_core() -> ModuleType:
    try:
        return importlib.import_module("dbtest._core")
    except ImportError:
        installed = importlib.metadata.distribution("dbtest").locate_file("dbtest")
        dbtest.__path__.append(str(installed))
        return importlib.import_module("dbtest._core")
