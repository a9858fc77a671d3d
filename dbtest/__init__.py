"""dbtest: a test and benchmark runner for Python.

The public test API is importable from here (``from dbtest import TestSuite,
test, expect``). Names are loaded on first use so that importing ``dbtest``
(which every worker does) stays cheap.
"""

from __future__ import annotations

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


__version__ = "0.1.0"

_EXPORTS = {
    "TestSuite": "dbtest.suite",
    "test": "dbtest.suite",
    "expect": "dbtest.expectations",
    "fixture": "dbtest.fixtures",
    "BenchmarkGroup": "dbtest.bench.api",
    "register_group": "dbtest.bench.api",
    "benchmark": "dbtest.bench.script",
    "benchmark_decorator": "dbtest.bench.script",
    "BenchmarkResult": "dbtest.bench.script",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'dbtest' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
