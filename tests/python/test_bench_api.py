"""The benchmark API in-process: groups, members, parameters and their names,
set-up, the decorator, calibration (with a made-up clock), ``await
benchmark(...)`` and ``BenchmarkGroup.run()``. No assertion is about time."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from dbtest import BenchmarkGroup, BenchmarkResult, benchmark, benchmark_decorator, register_group
from dbtest.bench import api
from dbtest.bench.measure import RESOLUTION_FACTOR, calibrate


def test_a_group_registers_with_the_module_that_makes_it() -> None:
    group = BenchmarkGroup("registry test")
    assert any(g is group for g in api.groups_of(__name__))
    register_group(group)  # twice: still once
    assert sum(g is group for g in api.groups_of(__name__)) == 1
    other = BenchmarkGroup("elsewhere", register=False)
    register_group(other, "some.module")
    assert api.groups_of("some.module") == [other]


def test_members_names_params_and_setup() -> None:
    group = BenchmarkGroup("members", baseline="plain", register=False)
    made: list[Any] = []

    @group.add("plain")
    def _() -> int:
        return 1

    @group.add
    def bare() -> int:
        return 2

    def setup(size: int, kind: Any) -> list[int]:
        made.append((size, kind))
        return list(range(size))

    @group.add("sized", params={"size": [10, 1000], "kind": ["a", 0.5, None, True, object()]}, setup=setup)
    def _(data: list[int], size: int, kind: Any) -> int:
        assert len(data) == size
        return size

    names = [m.name for m in group.members]
    assert names[:2] == ["plain", "bare"]
    assert names[2:7] == [
        "sized[size=10-kind=a]",
        "sized[size=10-kind=0.5]",
        "sized[size=10-kind=None]",
        "sized[size=10-kind=True]",
        "sized[size=10-kind=kind4]",
    ]
    assert len(group.find("sized")) == 10  # the unexpanded name: the whole family
    assert [m.full_name for m in group.find("sized[size=1000-kind=a]")] == ["members::sized[size=1000-kind=a]"]
    (member,) = group.find("sized[size=1000-kind=a]")
    assert member.smoke() == 1000
    assert made == [(1000, "a")]  # set-up runs per member, before the call


def test_async_members_smoke_run_as_awaitables() -> None:
    group = BenchmarkGroup("async", register=False)
    seen: list[int] = []

    @group.add("a")
    async def _() -> None:
        await asyncio.sleep(0)
        seen.append(1)

    (member,) = group.members
    assert member.is_async
    asyncio.run(member.smoke())
    assert seen == [1]


def test_the_decorator_adds_to_a_named_or_default_group() -> None:
    @benchmark_decorator(name="enc", group="deco json").parametrize("n", [1, 2]).parametrize("s", ["x"])
    def enc(n: int, s: str) -> str:
        return s * n

    @benchmark_decorator()
    def plain() -> None:
        pass

    groups = {g.name: g for g in api.groups_of(__name__)}
    assert [m.name for m in groups["deco json"].members] == ["enc[n=1-s=x]", "enc[n=2-s=x]"]
    assert "plain" in [m.name for m in groups["benchmarks"].members]
    assert enc(2, "y") == "yy"  # the function itself is unchanged


class Clock:
    """A member whose round of n calls 'takes' n * per_call seconds."""

    def __init__(self, per_call: float) -> None:
        self.per_call = per_call
        self.asked: list[int] = []

    def round(self, iterations: int) -> float:
        self.asked.append(iterations)
        return iterations * self.per_call


def test_calibration_reaches_a_tenth_of_a_second_and_1000x_the_resolution() -> None:
    clock = Clock(1e-4)
    iterations, elapsed = calibrate(clock, resolution=1e-9)  # type: ignore[arg-type]
    assert elapsed >= 0.1 and iterations * 1e-4 == elapsed
    assert iterations < 3000  # grows toward the target, does not overshoot wildly
    coarse = Clock(1e-4)
    iterations, elapsed = calibrate(coarse, resolution=1e-3)  # type: ignore[arg-type]
    assert elapsed >= RESOLUTION_FACTOR * 1e-3
    assert coarse.asked == sorted(coarse.asked)


def test_await_benchmark_returns_a_result_with_statistics() -> None:
    calls: list[int] = []

    def work(x: int) -> int:
        calls.append(x)
        return x * 2

    result = asyncio.run(benchmark(work, 21, iterations=3, rounds=6, warmup=1))
    assert isinstance(result, BenchmarkResult)
    assert result.iterations == 3 and len(result.round_times) == 6
    assert result.stats["n"] == 6 and result.median == result.stats["median"]
    assert len(calls) == 3 * (6 + 1) and set(calls) == {21}
    assert result.samples == [t / 3 for t in result.round_times]
    assert result.format().startswith("work: median ")

    async def awork() -> None:
        await asyncio.sleep(0)

    result = asyncio.run(benchmark(awork, auto=False))
    assert result.iterations == 1 and result.stats["n"] == 5


def test_group_run_and_report_from_a_script() -> None:
    group = BenchmarkGroup("script", baseline="one", register=False)

    @group.add("one")
    def _() -> None:
        sum(range(100))

    @group.add("two")
    def _() -> None:
        sum(range(200))

    results = group.run(budget=0.05)
    assert set(results) == {"one", "two"}
    assert results["one"].ratio["ratio"] == pytest.approx(1.0)
    assert results["two"].ratio is not None
    text = group.report()
    assert text.startswith("script (baseline: one)") and "two: median" in text


def test_the_worker_does_not_import_the_benchmark_code() -> None:
    code = (
        "import sys, dbtest.worker.main, dbtest.worker.collect, dbtest.worker.builtin_fixtures\n"
        "print(sorted(m for m in sys.modules if m.startswith('dbtest.bench') or m.endswith('builtins.benchmark')))"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
