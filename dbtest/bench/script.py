"""Benchmarks outside ``dbtest bench``: ``await benchmark(func, ...)``, the
``@benchmark_decorator`` that adds a function to a group, and
`BenchmarkGroup.run`/`.report` for a plain script. They measure in the calling
process, as the lane does (calibration, warmups, adaptive rounds), and take
their statistics from the same Rust code (``dbtest._core``)."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from typing import Any

from . import api
from .measure import TIMER, Timed, calibrate, timer_resolution

PRECISION = 0.02
MIN_ROUNDS = 5
WARMUP = 3


def _core() -> Any:
    from dbtest import _core

    return _core


def summarize(samples: list[float]) -> dict[str, Any]:
    """The statistics of per-call times (``rust/benchstats``'s `Summary`)."""
    return json.loads(_core().bench_summary(samples))


class BenchmarkResult:
    """One benchmark's measurements: raw round times, per-call samples and
    their statistics (``result.stats["median"]``, or ``result.median``)."""

    def __init__(self, name: str, iterations: int, round_times: list[float]) -> None:
        self.name = name
        self.iterations = iterations
        self.round_times = round_times
        self.samples = [t / iterations for t in round_times]
        self.stats: dict[str, Any] = summarize(self.samples)
        self.ratio: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        stats = self.__dict__.get("stats") or {}
        if name in stats:
            return stats[name]
        raise AttributeError(name)

    def format(self) -> str:
        s = self.stats
        scale, unit = _unit(s["median"])
        text = (
            f"{self.name}: median {s['median'] / scale:.3f} {unit} ±{s['median_rel_ci'] * 100:.1f}% "
            f"(mean {s['mean'] / scale:.3f} {unit}, stddev {s['stddev'] / scale:.3f} {unit}, "
            f"{s['ops']:.1f} ops/s, {s['n']} rounds x {self.iterations})"
        )
        if self.ratio is not None:
            r = self.ratio
            text += f" {r['ratio']:.2f}x [{r['ratio_ci']['low']:.2f}, {r['ratio_ci']['high']:.2f}]"
        return text

    def __repr__(self) -> str:
        return f"<BenchmarkResult {self.format()}>"


def _unit(seconds: float) -> tuple[float, str]:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return scale, unit
    return 1e-9, "ns"


def _rel_ci(round_times: list[float]) -> float:
    return summarize(round_times)["median_rel_ci"] if len(round_times) >= 2 else float("inf")


def measure_timed(
    name: str,
    timed: Timed,
    *,
    iterations: int | None = None,
    rounds: int | None = None,
    warmup: int = WARMUP,
    budget: float = 5.0,
) -> BenchmarkResult:
    """Calibrates (unless ``iterations``), warms up, then times ``rounds``
    rounds (adaptively, at least 5, when None)."""
    if iterations is None:
        iterations, _ = calibrate(timed, timer_resolution())
    for _ in range(warmup):
        timed.round(iterations)
    times: list[float] = []
    started = time.monotonic()
    while True:
        times.append(timed.round(iterations))
        if rounds is not None:
            if len(times) >= rounds:
                break
        elif len(times) >= MIN_ROUNDS and (_rel_ci(times) < PRECISION or time.monotonic() - started >= budget):
            break
    return BenchmarkResult(name, iterations, times)


async def benchmark(
    func: Callable[..., Any],
    *args: Any,
    iterations: int | None = None,
    rounds: int | None = None,
    warmup: int = WARMUP,
    auto: bool = True,
    name: str | None = None,
    **kwargs: Any,
) -> BenchmarkResult:
    """Measures ``func(*args, **kwargs)`` (awaited if async) and returns its
    `BenchmarkResult`. ``auto``: calibrate the iterations (else ``iterations``
    or 1) and extend the rounds until the median is known to 2%."""
    if not auto and iterations is None:
        iterations = 1
    if not auto and rounds is None:
        rounds = MIN_ROUNDS
    label = name or getattr(func, "__name__", "benchmark")
    if not inspect.iscoroutinefunction(func):
        timed = Timed(lambda: func(*args, **kwargs), False)
        return measure_timed(label, timed, iterations=iterations, rounds=rounds, warmup=warmup)

    async def one_round(n: int) -> float:
        start = TIMER()
        for _ in range(n):
            await func(*args, **kwargs)
        return TIMER() - start

    n = iterations or 1
    if iterations is None:
        floor = max(0.1, 1000 * timer_resolution())
        while (elapsed := await one_round(n)) < floor:
            n = max(n + 1, int(n * min(10.0, max(1.5, floor / max(elapsed, 1e-9) * 1.1))))
    for _ in range(warmup):
        await one_round(n)
    times: list[float] = []
    started = time.monotonic()
    while True:
        times.append(await one_round(n))
        if rounds is not None and len(times) >= rounds:
            break
        if (
            rounds is None
            and len(times) >= MIN_ROUNDS
            and (_rel_ci(times) < PRECISION or time.monotonic() - started >= 5)
        ):
            break
    return BenchmarkResult(label, n, times)


class benchmark_decorator:  # noqa: N801 - the seeds' name
    """``@benchmark_decorator(name="encode", group="json")`` adds the function to
    the group of that name in its module (made if needed; ``benchmarks`` by
    default); ``.parametrize("size", [10, 100])`` (chainable) gives it
    parameters, one member per value."""

    def __init__(self, name: str | None = None, group: str = "benchmarks", *, setup: Callable[..., Any] | None = None):
        self.name = name
        self.group = group
        self.setup = setup
        self.params: dict[str, list[Any]] = {}

    def parametrize(self, name: str, values: list[Any]) -> benchmark_decorator:
        self.params[name] = list(values)
        return self

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        module = getattr(function, "__module__", "__main__")
        group = next((g for g in api.groups_of(module) if g.name == self.group), None)
        if group is None:
            group = api.register_group(api.BenchmarkGroup(self.group, register=False), module)
        group.add(self.name or function.__name__, params=self.params or None, setup=self.setup)(function)
        return function


def run_group(group: api.BenchmarkGroup, *, budget: float = 5.0) -> dict[str, BenchmarkResult]:
    """Measures each member of ``group`` in this process (members in turn, each
    fully: a script has no lane), with ratios to the baseline or the fastest."""
    results: dict[str, BenchmarkResult] = {}
    for member in group.members:
        if member.is_async:
            import asyncio

            results[member.name] = asyncio.run(benchmark(member.bound(), name=member.name))
        else:
            timed = Timed(member.bound(), False)
            results[member.name] = measure_timed(member.name, timed, budget=budget)
    reference = group.baseline if group.baseline in results else None
    if reference is None and results:
        reference = min(results, key=lambda n: results[n].stats["median"])
    if reference is not None:
        for result in results.values():
            result.ratio = json.loads(_core().bench_compare(results[reference].samples, result.samples))["comparison"]
    group.results = results  # type: ignore[attr-defined]
    return results


def report_group(group: api.BenchmarkGroup, **options: Any) -> str:
    results: dict[str, BenchmarkResult] | None = getattr(group, "results", None)
    if results is None:
        results = run_group(group, **options)
    lines = [f"{group.name}" + (f" (baseline: {group.baseline})" if group.baseline else "")]
    lines.extend(f"  {result.format()}" for result in results.values())
    return "\n".join(lines)
