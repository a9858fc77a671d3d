"""Medians, differences per test, and the timing of in-process calls (used by
the probes, inside the benchmark's environment)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def per_unit(series: Mapping[int, Sequence[float]], small: int, large: int) -> float:
    """The growth of a figure per unit between two sizes (Δ median ÷ Δ size): every
    fixed cost, measured at both sizes, cancels out."""
    return (median(series[large]) - median(series[small])) / (large - small)


def median_time(reps: int, call: Callable[[], Any]) -> float:
    """The median wall time of ``reps`` calls, after one untimed call."""
    call()
    walls = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def per_call(reps: int, call: Callable[[], Any], rounds: int = 5) -> float:
    """Median over ``rounds`` rounds of the time of one call, in seconds."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            call()
        results.append((time.perf_counter() - start) / reps)
    return statistics.median(results)
