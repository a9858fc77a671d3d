"""Suites (a)–(i): one table says what each suite is, one function times any of
them against `pytest` and `pytest -n N`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .commands import BenchError, Tool, all_passed, collected, dbtest_counts, listed, pytest_counts
from .context import Context, alternate, parallel_probe, probe_json
from .formatting import log, mib, secs, times
from .generate import (
    FEATURE_FILES,
    FEATURE_PER_FILE,
    IMPORT_LOG,
    NEEDLE,
    SLEEP_WORKERS,
    gen_async,
    gen_cpu,
    gen_fixtures,
    gen_flat,
    gen_generated_module,
    gen_heavy_imports,
    gen_parametrized,
    gen_skewed,
    gen_sleep,
    gen_trivial_packages,
)
from .stats import median


@dataclass
class SuiteResult:
    key: str
    title: str
    tests: int
    tools: list[Tool]
    walls: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)
    extra: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def wall(self, key: str) -> float:
        return median(self.walls.get(key, []))

    def ratio(self, key: str) -> float:
        return self.wall(key) / self.wall("dbtest")

    def label(self, key: str) -> str:
        return next((t.label for t in self.tools if t.key == key), key)


@dataclass(frozen=True)
class Suite:
    key: str
    directory: str  # under the run's work directory
    title: str
    generate: Callable[[Context, Path], int]  # writes the suite, returns its number of tests
    workers: int | None = None  # for dbtest -j / pytest -n; None: --jobs
    # CPU-bound: every repetition also measures the serial test time, the
    # machine's parallel capacity and the test time within a dbtest run.
    cpu_bound: bool = False
    # Timed on dbtest's second run: the warm-up starts without recorded durations.
    second_run: bool = False
    # Every dbtest run is a first run: --no-cache, so no durations are recorded or read.
    cold: bool = False
    # One test selected by name (`-k`), and the modules dbtest imported for it.
    keyword: str | None = None
    # Also timed in the same rounds: dbtest on the plain trivial tests of the same
    # layout (BASELINE_DIR), the reference for what a pytest feature costs dbtest.
    baseline: bool = False
    # Every round also times `dbtest list` and `pytest --collect-only -q`.
    listing: bool = False
    # Its tests are made at import: static collection sees none of them.
    made_at_import: bool = False


# Suites g and h: 50 flat files of 100 plain trivial tests, the layout of their corpora.
BASELINE_DIR = "plain_5000"
BASELINE_TESTS = FEATURE_FILES * FEATURE_PER_FILE
DBTEST_LIST, PYTEST_COLLECT = "dbtest list", "pytest --collect-only -q"


SUITES: tuple[Suite, ...] = (
    Suite(
        "a",
        "a_trivial",
        "5,000 trivial tests, 200 files in nested packages",
        lambda ctx, root: gen_trivial_packages(root),
    ),
    Suite(
        "b",
        "b_cpu",
        "50 CPU-bound tests of ~60 ms",
        lambda ctx, root: gen_cpu(root, ctx.spins(0.060)),
        cpu_bound=True,
    ),
    Suite(
        "c",
        "c_sleep",
        "80 tests sleeping 50 ms, 8 workers",
        lambda ctx, root: gen_sleep(root),
        workers=SLEEP_WORKERS,
    ),
    Suite(
        "d",
        "d_imports",
        "60 modules of ~40 ms import, one test selected by name",
        lambda ctx, root: gen_heavy_imports(root, ctx.spins(0.040)),
        keyword=NEEDLE,
    ),
    Suite(
        "e",
        "e_skewed",
        "200 tests of ~5 ms + 4 of ~1.5 s in one file (second run)",
        lambda ctx, root: gen_skewed(root, ctx.spins(0.005), ctx.spins(1.5)),
        cpu_bound=True,
        second_run=True,
    ),
    Suite(
        "f",
        "f_async",
        "100 async tests (pytest-asyncio, asyncio_mode = auto)",
        lambda ctx, root: gen_async(root),
    ),
    Suite(
        "g",
        "g_parametrize",
        "5,000 parametrized cases: 50 functions × 100 literal cases, 50 files",
        lambda ctx, root: gen_parametrized(root),
        baseline=True,
        listing=True,
    ),
    Suite(
        "h",
        "h_fixtures",
        "5,000 tests, each using 2 function- and 1 module-scoped conftest fixtures, 50 files",
        lambda ctx, root: gen_fixtures(root),
        baseline=True,
    ),
    Suite(
        "i",
        "i_skewed_cold",
        "200 tests of ~5 ms + 4 of ~1.5 s in one file (first run: no durations)",
        lambda ctx, root: gen_skewed(root, ctx.spins(0.005), ctx.spins(1.5)),
        cpu_bound=True,
        cold=True,
    ),
    Suite(
        "j",
        "j_one_big_module",
        "400 tests of ~10 ms made at import in a loop, one module (second run)",
        lambda ctx, root: gen_generated_module(root, ctx.spins(0.010)),
        cpu_bound=True,
        second_run=True,
        made_at_import=True,
    ),
)
SUITE_KEYS = tuple(suite.key for suite in SUITES)


def standard_tools(ctx: Context, expected: int, jobs: int, extra: Sequence[str] = ()) -> list[Tool]:
    """`dbtest -j N`, `pytest` and `pytest -n N`, each with ``extra`` arguments."""
    tail_args = "".join(f" {a}" for a in extra)
    dbtest_run, pytest_run = all_passed(expected, dbtest_counts), all_passed(expected, pytest_counts)
    return [
        Tool("dbtest", f"dbtest -j {jobs}{tail_args}", ctx.dbtest("-j", str(jobs), *extra), dbtest_run),
        Tool("pytest", f"pytest{tail_args}", ctx.pytest(*extra), pytest_run),
        Tool("xdist", f"pytest -n {jobs}{tail_args}", ctx.pytest("-n", str(jobs), *extra), pytest_run),
    ]


def baseline_tool(ctx: Context, jobs: int) -> Tool:
    """dbtest on the plain tests of BASELINE_DIR (written by `ensure_baseline`)."""
    return Tool(
        "baseline",
        f"dbtest -j {jobs}, {BASELINE_TESTS:,} plain tests",
        ctx.dbtest("-j", str(jobs)),
        all_passed(BASELINE_TESTS, dbtest_counts),
        cwd=ctx.work / BASELINE_DIR,
    )


def ensure_baseline(ctx: Context) -> None:
    root = ctx.work / BASELINE_DIR
    if not root.exists():
        gen_flat(root, FEATURE_FILES, FEATURE_PER_FILE)


def suite_tools(ctx: Context, suite: Suite, tests: int) -> list[Tool]:
    if suite.cold:
        tools = standard_tools(ctx, tests, suite.workers or ctx.jobs)
        jobs = str(suite.workers or ctx.jobs)
        run = ctx.dbtest("-j", jobs, "--no-cache")
        tools[0] = Tool("dbtest", f"dbtest -j {jobs} --no-cache", run, all_passed(tests, dbtest_counts))
        return tools
    if suite.baseline:
        return [*standard_tools(ctx, tests, suite.workers or ctx.jobs), baseline_tool(ctx, suite.workers or ctx.jobs)]
    if suite.keyword is None:
        return standard_tools(ctx, tests, suite.workers or ctx.jobs)
    selected = ("-k", suite.keyword)
    tools = standard_tools(ctx, 1, suite.workers or ctx.jobs, selected)
    # dbtest as a user would select one test: no -j, nothing to spread.
    tools[0] = Tool("dbtest", f"dbtest -k {suite.keyword}", ctx.dbtest(*selected), all_passed(1, dbtest_counts))
    return tools


# A figure measured once per repetition, beside the timed runs.
Extra = Callable[[], dict[str, float]]


def serial_reference(ctx: Context, root: Path) -> Extra:
    """Every test of ``root`` called in one plain interpreter: the serial test time."""

    def extra() -> dict[str, float]:
        data = probe_json(ctx, "serial", str(root))
        return {"serial": data["total"], "longest": data["longest"]}

    return extra


def in_run_balance(ctx: Context, root: Path, cold: bool = False) -> Extra:
    """One more run of dbtest (durations known from the earlier ones; none with
    ``cold``), with its JSON report: its wall time, and the test time measured in
    that same run (the sum of its tests' durations, and the longest), which the
    machine's varying parallel capacity does not skew the way a separate serial
    reference does."""
    cache = ("--no-cache",) if cold else ()

    def extra() -> dict[str, float]:
        report = ctx.work / f"{root.name}.report.json"
        m = ctx.run(ctx.dbtest("-j", str(ctx.jobs), "-q", *cache, "--json", str(report)), root)
        if m.returncode != 0:
            raise BenchError(f"dbtest --json in {root} failed:\n{m.stderr}")
        durations = [t["duration"] for t in json.loads(report.read_text())["tests"]]
        return {"in-run wall": m.wall, "in-run test time": sum(durations), "in-run longest": max(durations)}

    return extra


def cpu_bound_extras(ctx: Context, root: Path, cold: bool = False) -> list[Extra]:
    return [serial_reference(ctx, root), lambda: {"probe": parallel_probe(ctx)}, in_run_balance(ctx, root, cold)]


def listing_tools(ctx: Context, tests: int) -> list[Tool]:
    return [
        Tool("list", DBTEST_LIST, ctx.dbtest("list"), listed(tests)),
        Tool("collect", PYTEST_COLLECT, ctx.pytest("--collect-only", "-q"), collected(tests)),
    ]


def listing_times(ctx: Context, root: Path, tests: int) -> Extra:
    """`dbtest list` and `pytest --collect-only -q` on the suite, one after the
    other; one untimed run of each first."""
    tools = listing_tools(ctx, tests)
    for tool in tools:
        ctx.run_tool(tool, root)

    def extra() -> dict[str, float]:
        return {tool.label: ctx.run_tool(tool, root).wall for tool in tools}

    return extra


def suite_extras(ctx: Context, suite: Suite, root: Path, tests: int) -> list[Extra]:
    """What every round measures beside the suite's timed runs."""
    extras = cpu_bound_extras(ctx, root, suite.cold) if suite.cpu_bound else []
    if suite.listing:
        extras.append(listing_times(ctx, root, tests))
    return extras


def imported_by(ctx: Context, tool: Tool, root: Path) -> list[str]:
    """The modules of suite d that one run of ``tool`` imported."""
    log_file = root / IMPORT_LOG
    log_file.unlink(missing_ok=True)
    ctx.run_tool(tool, root)
    return log_file.read_text().split() if log_file.exists() else []


def run_suite(ctx: Context, suite: Suite) -> SuiteResult:
    """Generates the suite, then one untimed warm-up per tool (it writes .pyc files
    and caches, and its process-tree RSS is sampled), then ``ctx.repeat`` rounds
    alternating the tools."""
    root = ctx.work / suite.directory
    tests = suite.generate(ctx, root)
    if suite.baseline:
        ensure_baseline(ctx)
    tools = suite_tools(ctx, suite, tests)
    result = SuiteResult(suite.key, suite.title, 1 if suite.keyword else tests, tools)
    if suite.keyword is not None:
        imported = imported_by(ctx, tools[0], root)
        result.notes["modules imported by dbtest"] = ", ".join(imported) or "none"
        result.extra["modules imported by dbtest"] = [float(len(imported))]
    if suite.second_run:
        # The warm-up is dbtest's first run, with no durations recorded: every timed
        # run after it knows them from .dbtest/ in the project root.
        shutil.rmtree(root / ".dbtest", ignore_errors=True)
    for tool in tools:
        m = ctx.run_tool(tool, root, sample_rss=True)
        result.rss[tool.key] = max(m.tree_rss_kib, m.largest_rss_kib)
    extras = suite_extras(ctx, suite, root, tests)

    def after_round() -> None:
        for extra in extras:
            for name, value in extra().items():
                result.extra.setdefault(name, []).append(value)

    result.walls = alternate(ctx, tools, root, after_round)
    print_suite(result)
    return result


def print_suite(result: SuiteResult) -> None:
    parts = [f"({result.key}) {result.title}: {result.tests} tests"]
    width = max(28, *(len(tool.label) for tool in result.tools))
    for tool in result.tools:
        ratio = "" if tool.key == "dbtest" else f" ({times(result.ratio(tool.key))} dbtest)"
        if tool.key == "baseline":
            ratio = f" (dbtest takes {times(1 / result.ratio(tool.key))} this)"
        rss = mib(result.rss.get(tool.key))
        parts.append(f"    {tool.label:<{width}} {secs(result.wall(tool.key)):>10}  peak RSS {rss}{ratio}")
    for name, values in result.extra.items():
        parts.append(f"    {name:<{width}} {median(values):>10.3f}")
    log("\n".join(parts))
