"""`dbtest bench` and plain `dbtest` on benchmark projects, end to end with the
real command. Nothing here asserts a time: the work is deterministic busy
loops, and ratios are checked with generous tolerances."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .conftest import run_dbtest

# "ten" does ten times the loop iterations of "one".
WORK = """\
from dbtest import BenchmarkGroup

N = 20_000
group = BenchmarkGroup("work", baseline="one")


def spin(n):
    total = 0
    for i in range(n):
        total += i
    return total


@group.add("one")
def _():
    spin(N)


@group.add("ten")
def _():
    spin(10 * N)
"""

PARAMS = """\
import asyncio

from dbtest import BenchmarkGroup, benchmark_decorator

sizes = BenchmarkGroup("sizes")
CALLS = []


def make(size):
    CALLS.append(("setup", size))
    return list(range(size))


@sizes.add("sum", params={"size": [10, 100]}, setup=make)
def _(data, size):
    assert len(data) == size
    return sum(data)


@sizes.add("async")
async def _():
    await asyncio.sleep(0)


@benchmark_decorator(name="join", group="strings").parametrize("n", [1, 3])
def join(n):
    return ",".join(["x"] * n)
"""

BROKEN = """\
from dbtest import BenchmarkGroup

group = BenchmarkGroup("broken")


@group.add("fine")
def _():
    sum(range(100))


@group.add("raises")
def _():
    raise ValueError("boom")
"""

TESTS = """\
def test_ordinary():
    assert True
"""

FAST = ["--bench-time", "1"]


def members(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for g in report["groups"] for m in g["members"]}


def bench_json(root: Path, *args: str, name: str = "report.json") -> tuple[Any, dict[str, Any]]:
    out = root / name
    run = run_dbtest("bench", *FAST, "--json", str(out), *args, cwd=root, timeout=300)
    return run, json.loads(out.read_text()) if out.exists() else {}


def test_ten_times_the_work_is_a_ratio_near_ten(project) -> None:
    root = project({"bench_work.py": WORK, "test_plain.py": TESTS})
    run, report = bench_json(root)
    assert run.code == 0, run
    assert report["schema"] == "dbtest-bench" and report["version"] == 1
    found = members(report)
    one, ten = found["bench_work.py::work::one"], found["bench_work.py::work::ten"]
    for m in (one, ten):
        stats = m["stats"]
        assert stats["n"] >= 5 and len(m["round_times"]) == stats["n"] == len(m["samples"])
        assert m["iterations"] >= 1 and m["warmups"] == 3
        for key in ("min", "max", "mean", "median", "stddev", "iqr", "p25", "p50", "p75", "ops"):
            assert isinstance(stats[key], float), key
        assert stats["min"] <= stats["median"] <= stats["max"]
        assert stats["mean_ci"]["low"] <= stats["mean"] <= stats["mean_ci"]["high"]
        assert stats["median_ci"]["low"] <= stats["median"] <= stats["median_ci"]["high"]
        assert set(stats["outliers"]) == {"mild", "severe"}
        assert (stats["p95"] is None) == (stats["n"] < 20)
        # The raw samples are the round times over the iterations.
        assert m["samples"][0] == m["round_times"][0] / m["iterations"]
    group = report["groups"][0]
    assert group["reference"] == "one" and group["reference_kind"] == "baseline"
    # Near 10, with an interval around the estimate that is consistent with 10.
    # The machine is shared (other processes take the lane's CPU at random), so
    # the tolerances are generous: this checks the design, not the machine.
    ratio = ten["ratio"]
    low, high = ratio["ratio_ci"]["low"], ratio["ratio_ci"]["high"]
    assert 6 < ratio["ratio"] < 16, ratio
    assert low <= ratio["ratio"] <= high, ratio
    assert low <= 12.5 and high >= 8, ratio
    assert ten["slowest"] and one["fastest"]
    # Machine, interpreter, timer, GC state and CPU pinning are recorded.
    lane = report["lane"]
    assert lane["timer_resolution"] > 0 and lane["gc_enabled"] is True
    assert "cpu" in lane and lane["python"]
    # The console table: the group, both members, the ratio; the test did not run.
    assert "bench_work.py::work" in run.stdout
    assert "1.00 (baseline)" in run.stdout and "fastest" in run.stdout and "slowest" in run.stdout
    assert "test_ordinary" not in run.stdout + run.stderr
    assert "2 measured, 0 failed" in run.stdout


def test_plain_dbtest_only_smoke_runs_benchmarks(project) -> None:
    root = project({"bench_params.py": PARAMS, "bench_broken.py": BROKEN, "test_plain.py": TESTS})
    run = run_dbtest("-v", cwd=root)
    assert run.code == 1, run
    for name in (
        "bench_params.py::sizes::sum[size=10]",
        "bench_params.py::sizes::sum[size=100]",
        "bench_params.py::sizes::async",
        "bench_params.py::strings::join[n=1]",
        "bench_params.py::strings::join[n=3]",
        "bench_broken.py::broken::fine",
        "test_plain.py::test_ordinary",
    ):
        assert name in run.stdout, name
    assert "ValueError: boom" in run.stdout
    assert "1 failed" in run.last_line and "7 passed" in run.last_line, run.last_line


def test_benchmarks_are_listed_and_selected_by_k(project) -> None:
    root = project({"bench_params.py": PARAMS, "test_plain.py": TESTS})
    listed = run_dbtest("list", cwd=root)
    assert "bench_params.py::sizes::sum[size=10]" in listed.stdout
    run, report = bench_json(root, "-k", "size=100")
    assert run.code == 0, run
    assert list(members(report)) == ["bench_params.py::sizes::sum[size=100]"]
    # `--format json`: the document on stdout, the table on stderr.
    run = run_dbtest("bench", *FAST, "-k", "join and n=3", "--format", "json", cwd=root, timeout=300)
    assert run.code == 0, run
    assert list(members(json.loads(run.stdout))) == ["bench_params.py::strings::join[n=3]"]
    assert "bench_params.py::strings" in run.stderr


def test_params_setup_async_and_decorated_members_are_measured(project) -> None:
    root = project({"bench_params.py": PARAMS})
    run, report = bench_json(root, "--markdown", str(root / "report.md"))
    assert run.code == 0, run
    found = members(report)
    assert set(found) == {
        "bench_params.py::sizes::sum[size=10]",
        "bench_params.py::sizes::sum[size=100]",
        "bench_params.py::sizes::async",
        "bench_params.py::strings::join[n=1]",
        "bench_params.py::strings::join[n=3]",
    }
    assert all(m["stats"] is not None for m in found.values())
    markdown = (root / "report.md").read_text()
    assert "## `bench_params.py::sizes`" in markdown and "| member |" in markdown


def test_a_failing_member_is_reported_with_its_phase_and_the_others_run(project) -> None:
    root = project({"bench_broken.py": BROKEN})
    run, report = bench_json(root)
    assert run.code == 1, run
    found = members(report)
    assert found["bench_broken.py::broken::fine"]["stats"] is not None
    error = found["bench_broken.py::broken::raises"]["error"]
    assert error["phase"] == "calibrating" and "ValueError: boom" in error["message"]
    assert "bench_broken.py::broken::raises failed while calibrating: ValueError: boom" in run.stdout


def test_save_compare_and_the_regression_gate(project) -> None:
    root = project({"bench_work.py": WORK})
    saved = run_dbtest("bench", *FAST, "--save", "base", cwd=root, timeout=300)
    assert saved.code == 0, saved
    assert (root / ".dbtest" / "benchmarks" / "base.json").is_file()

    # Identical code: no significant change (timing noise on a shared machine
    # can, rarely, exceed the 2% floor: a few tries).
    for _ in range(5):
        same, report = bench_json(root, "--compare", "base", "--fail-on-regression", "50")
        assert same.code == 0, same
        verdicts = {m["id"]: m["change"]["verdict"] for m in members(report).values()}
        if set(verdicts.values()) == {"no_change"}:
            break
    assert set(verdicts.values()) == {"no_change"}, verdicts
    assert "no significant change" in same.stdout

    # The baseline member made three times slower: a regression, and the gate trips.
    (root / "bench_work.py").write_text(WORK.replace("    spin(N)\n", "    spin(3 * N)\n", 1))
    slow, report = bench_json(root, "--compare", "base", "--fail-on-regression", "5")
    assert slow.code == 1, slow
    change = members(report)["bench_work.py::work::one"]["change"]
    assert change["verdict"] == "slower" and change["regressed"] is True
    # Three times the work; the machine's load may differ between the saved
    # run and this one, so only the direction is asserted, not the size.
    assert change["comparison"]["ratio"] > 1.5
    # The untouched member may read slower too when other tests share the
    # machine (the suite runs in parallel): only the slowed one is asserted.
    assert "REGRESSION" in slow.stdout and re.search(r"\b[12] regressed beyond 5%", slow.stdout), slow
    # Without the gate the same comparison only reports.
    report_only = run_dbtest("bench", *FAST, "--compare", "base", cwd=root, timeout=300)
    assert report_only.code == 0, report_only
    assert "slower" in report_only.stdout


def test_bad_bench_input_is_one_line_and_exit_4(project) -> None:
    root = project({"bench_work.py": WORK})
    for args, words in (
        (["--compare", "nothing"], "no saved benchmark run named"),
        (["--bench-time", "0"], "--bench-time"),
        (["--save", "../x"], "invalid benchmark run name"),
        (["--fail-on-regression", "5"], "needs --compare"),
    ):
        run = run_dbtest("bench", *args, cwd=root)
        assert run.code == 4, (args, run)
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0], (args, run.stderr)
    run = run_dbtest("--save", "x", cwd=root)
    assert run.code == 4 and "dbtest bench" in run.stderr, run


PYTEST_BENCHMARK = """\
import pytest


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def test_fib(benchmark):
    result = benchmark(fib, 12)
    benchmark.extra_info["n"] = 12
    assert result == 144


@pytest.mark.benchmark(group="pedantic")
def test_pedantic(benchmark):
    made = []

    def setup():
        made.append(1)
        return (5,), {}

    assert benchmark.pedantic(fib, setup=setup, rounds=7, warmup_rounds=1, iterations=1) == 5
    assert len(made) in (1, 8)


def test_which_fixture(benchmark):
    assert type(benchmark).__module__ == "dbtest.worker.builtins.benchmark"
    benchmark(lambda: None)


def test_plain():
    assert True
"""

# An installed pytest-benchmark, as far as plugin discovery can tell: its
# `benchmark` fixture would fail every test that got it.
FAKE_PLUGIN = {
    "site/pytest_benchmark/__init__.py": "",
    "site/pytest_benchmark/plugin.py": (
        "import pytest\n\n\n@pytest.fixture\ndef benchmark():\n    raise RuntimeError('pytest-benchmark used')\n"
    ),
    "site/pytest_benchmark-9.9.dist-info/METADATA": "Metadata-Version: 2.1\nName: pytest-benchmark\nVersion: 9.9\n",
    "site/pytest_benchmark-9.9.dist-info/entry_points.txt": "[pytest11]\nbenchmark = pytest_benchmark.plugin\n",
}


def test_pytest_benchmark_style_tests_run_unchanged_under_dbtest_and_dbtest_bench(project) -> None:
    root = project({"tests/test_speed.py": PYTEST_BENCHMARK, **FAKE_PLUGIN})
    env = {"PYTHONPATH": str(root / "site")}
    plain = run_dbtest("tests", "-v", cwd=root, env=env)
    assert plain.code == 0, plain
    assert "4 passed" in plain.last_line, plain

    out = root / "bench.json"
    run = run_dbtest("bench", "tests", *FAST, "--json", str(out), cwd=root, env=env, timeout=300)
    assert run.code == 0, run
    found = members(json.loads(out.read_text()))
    assert set(found) == {
        "tests/test_speed.py::test_fib",
        "tests/test_speed.py::test_pedantic",
        "tests/test_speed.py::test_which_fixture",
    }
    fib = found["tests/test_speed.py::test_fib"]
    assert fib["stats"]["n"] >= 5 and fib["iterations"] >= 1
    assert fib["extra_info"] == {"n": 12}
    pedantic = found["tests/test_speed.py::test_pedantic"]
    assert pedantic["group"] == "pedantic" and len(pedantic["round_times"]) == 7
    assert pedantic["iterations"] == 1

    # With the report on stdout, the fixture tests' run keeps its console off it.
    run = run_dbtest("bench", "tests", *FAST, "-k", "pedantic", "--format", "json", cwd=root, env=env, timeout=300)
    assert run.code == 0, run
    assert list(members(json.loads(run.stdout))) == ["tests/test_speed.py::test_pedantic"]


CRASH = """\
import os

from dbtest import BenchmarkGroup

group = BenchmarkGroup("crash")


@group.add("dies")
def _():
    os._exit(3)


@group.add("after")
def _():
    sum(range(10))
"""


def test_a_member_that_kills_the_lane_is_an_error_and_the_rest_still_run(project) -> None:
    root = project({"bench_crash.py": CRASH, "bench_work.py": WORK})
    run, report = bench_json(root)
    assert run.code == 1, run
    found = members(report)
    error = found["bench_crash.py::crash::dies"]["error"]
    assert error["phase"] == "calibrating"
    assert error["message"] == "the benchmark process died (exit code 3)"
    for name in ("bench_crash.py::crash::after", "bench_work.py::work::one", "bench_work.py::work::ten"):
        assert found[name]["stats"] is not None, name
    assert "bench_crash.py::crash::dies ... error while calibrating" in run.stderr


SLOW = """\
import os
import time

from dbtest import BenchmarkGroup

quick = BenchmarkGroup("a quick")
slow = BenchmarkGroup("b slow")


@quick.add("sum")
def _():
    sum(range(100))


@slow.add("sleeps")
def _():
    with open(os.environ["LANE_PID"], "w") as out:
        out.write(str(os.getpid()))
    time.sleep(60)  # the interrupt comes while this group is being measured
"""


def test_ctrl_c_reports_what_was_measured_and_exits_2(project) -> None:
    import os
    import signal
    import time

    from .test_robustness import _start

    root = project({"bench_slow.py": SLOW})
    pid_file = root / "lane.pid"
    proc = _start(["bench", "--bench-time", "1"], {"LANE_PID": str(pid_file)}, cwd=root)
    deadline = time.monotonic() + 120
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the slow group never started"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    lane = int(pid_file.read_text())
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2, (stdout, stderr)
    # The group measured before the interrupt is reported.
    assert "bench_slow.py::a quick" in stdout and "\n  sum " in stdout, stdout
    assert "interrupted" in stdout.splitlines()[-1], stdout
    # The lane process is gone with the run.
    for _ in range(100):
        try:
            os.kill(lane, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the lane {lane} outlived the run")


HANGS = """\
import time

from dbtest import BenchmarkGroup

hang = BenchmarkGroup("a hang")
fine = BenchmarkGroup("b fine")
CALLS = [0]


@hang.add("hangs")
def _():
    CALLS[0] += 1
    # Calibration and the first warmup go by; then one call never ends.
    time.sleep(600 if CALLS[0] > 12 else 0.02)


@fine.add("quick")
def _():
    sum(range(10))
"""


def test_a_round_past_the_timeout_is_an_error_and_the_next_group_runs(project) -> None:
    root = project({"bench_hang.py": HANGS})
    run, report = bench_json(root, "--timeout", "2")
    assert run.code == 1, run
    found = members(report)
    error = found["bench_hang.py::a hang::hangs"]["error"]
    assert error["phase"] in ("warming_up", "running"), error
    assert error["message"] == "timed out: a round took over 2 s", error
    assert found["bench_hang.py::b fine::quick"]["stats"] is not None
