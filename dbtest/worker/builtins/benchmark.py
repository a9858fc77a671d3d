"""pytest-benchmark's ``benchmark`` fixture, for dbtest: ``benchmark(fn, *args,
**kwargs)`` and ``benchmark.pedantic(fn, args=, kwargs=, setup=, rounds=,
warmup_rounds=, iterations=)`` return ``fn``'s result; ``benchmark.extra_info``
is kept with the measurements.

In a test run it calls ``fn`` once. Under ``dbtest bench`` (the coordinator sets
``DBTEST_BENCH_DIR``) it measures as the benchmark lane does — calibration, three
warmups, rounds until the median is known to 2% or the time budget
(``DBTEST_BENCH_TIME``) is spent; ``pedantic`` exactly as asked — and writes
the raw round times to that directory for the coordinator's statistics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

BENCH_DIR = "DBTEST_BENCH_DIR"
BENCH_TIME = "DBTEST_BENCH_TIME"


class FixtureAlreadyUsed(Exception):
    """pytest-benchmark's error for a second measurement in one test."""


class BenchmarkFixture:
    def __init__(self, node: Any) -> None:
        self.node = node
        self.name = getattr(node, "name", "benchmark")
        self.extra_info: dict[str, Any] = {}
        marker = node.get_closest_marker("benchmark") if hasattr(node, "get_closest_marker") else None
        self.group: str | None = (marker.kwargs.get("group") if marker is not None else None) or None
        self.disabled = os.environ.get(BENCH_DIR) is None
        self._used = False

    def _claim(self) -> None:
        if self._used:
            raise FixtureAlreadyUsed("the benchmark fixture can only be used once per test")
        self._used = True

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._claim()
        if self.disabled:
            return function(*args, **kwargs)
        from dbtest.bench.measure import Timed
        from dbtest.bench.script import measure_timed

        last: list[Any] = [None]

        def call() -> None:
            last[0] = function(*args, **kwargs)

        budget = float(os.environ.get(BENCH_TIME) or 5.0)
        result = measure_timed(self.name, Timed(call, False), budget=budget)
        self._record(result.iterations, result.round_times)
        return last[0]

    def pedantic(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        setup: Callable[[], Any] | None = None,
        rounds: int = 1,
        warmup_rounds: int = 0,
        iterations: int = 1,
    ) -> Any:
        self._claim()
        if setup is not None and iterations > 1:
            raise ValueError("Can't use more than 1 `iterations` with a `setup` function.")
        if rounds < 1 or iterations < 1:
            raise ValueError("rounds and iterations must be at least 1")

        def arguments() -> tuple[tuple[Any, ...], dict[str, Any]]:
            if setup is not None:
                made = setup()
                if made is not None:
                    return tuple(made[0]), dict(made[1])
            return tuple(args), dict(kwargs or {})

        if self.disabled:
            a, k = arguments()
            return target(*a, **k)
        from dbtest.bench.measure import TIMER

        result: Any = None
        times: list[float] = []
        for index in range(warmup_rounds + rounds):
            a, k = arguments()
            start = TIMER()
            for _ in range(iterations):
                result = target(*a, **k)
            elapsed = TIMER() - start
            if index >= warmup_rounds:
                times.append(elapsed)
        self._record(iterations, times)
        return result

    def _record(self, iterations: int, round_times: list[float]) -> None:
        self._measured = (iterations, round_times)

    def flush(self) -> None:
        """Writes the measurements (at the test's teardown, so that
        ``extra_info`` set after the call is kept)."""
        measured = getattr(self, "_measured", None)
        if measured is None or self.disabled:
            return
        import uuid

        iterations, round_times = measured
        document = {
            "id": getattr(self.node, "nodeid", self.name),
            "group": self.group,
            "name": self.name,
            "iterations": iterations,
            "round_times": round_times,
            "extra_info": self.extra_info,
        }
        path = os.path.join(os.environ[BENCH_DIR], f"{uuid.uuid4().hex}.json")
        with open(path, "w") as out:
            json.dump(document, out, default=repr)
