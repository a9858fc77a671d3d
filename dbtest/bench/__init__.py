"""dbtest's benchmarks: `BenchmarkGroup` and its registry, ``await
benchmark(...)``, `benchmark_decorator`, and the lane ``dbtest bench`` measures
in. Imported only by code that uses benchmarks (never by a worker's start)."""

from __future__ import annotations

from .api import BenchmarkGroup, register_group
from .script import BenchmarkResult, benchmark, benchmark_decorator

__all__ = ["BenchmarkGroup", "BenchmarkResult", "benchmark", "benchmark_decorator", "register_group"]
