"""`scripts/bench` does not rot: its package imports, its suites hold the tests it
expects, its statistics, budgets and report work on made-up figures, and every
probe still speaks to the installed dbtest. Nothing here is timed or asserts a
timing (the full benchmark takes minutes; see docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dbtest import _core

from .conftest import REPO, run_dbtest

BENCH = REPO / "scripts" / "bench"
if str(BENCH.parent) not in sys.path:
    sys.path.insert(0, str(BENCH.parent))

from benchmarks import generate, report, stats  # noqa: E402
from benchmarks.budgets import budgets  # noqa: E402
from benchmarks.commands import Measurement, Tool, dbtest_counts, pytest_counts  # noqa: E402
from benchmarks.generate import FEATURE_FILES, FEATURE_PER_FILE  # noqa: E402
from benchmarks.micro import Micro  # noqa: E402
from benchmarks.overhead import SIZES, Overhead  # noqa: E402
from benchmarks.probes.core import list_args  # noqa: E402
from benchmarks.suites import (  # noqa: E402
    BASELINE_DIR,
    DBTEST_LIST,
    PYTEST_COLLECT,
    SUITES,
    SuiteResult,
    run_suite,
    suite_extras,
    suite_tools,
)


def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def probe(name: str, *args: str, cwd: Path) -> Any:
    done = bench("_probe", name, *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def collected_ids(root: Path, keyword: str | None = None) -> list[str]:
    document = json.loads(_core.collect(list_args(root, [str(root)], keyword)))
    assert document["errors"] == []
    return [test["id"] for test in document["tests"]]


def test_help_names_every_section_and_budget(tmp_path: Path) -> None:
    done = bench("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "a,b,c,d,e,f,g,h,i,j,peers,micro,overhead,profile,changed" in done.stdout
    assert "coordinator peak RSS on 100,000 trivial tests (2,000 files) <= 60 MiB" in done.stdout
    assert "(changed) dbtest --changed after editing one leaf module of a 500-module," in done.stdout
    assert "(i) first run (no durations, --no-cache) <= 1.25 x max(longest test, test" in done.stdout
    assert "(c) -j 8 wall <= 1.2 x its sleep floor" in done.stdout
    assert "(h) dbtest <= 2 x dbtest on the same 5,000 plain tests" in done.stdout


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    done = bench("--only", "a,zz", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown sections ['zz']" in done.stderr


@pytest.mark.parametrize("suite", SUITES, ids=[suite.key for suite in SUITES])
def test_each_suite_holds_the_tests_it_is_timed_on(tmp_path: Path, suite: Any) -> None:
    ctx = SimpleNamespace(spins=lambda seconds: 3, jobs=2, dbtest=lambda *a: ["dbtest", *a], work=tmp_path)
    ctx.pytest = lambda *a: ["pytest", *a]
    root = tmp_path / suite.directory
    written = suite.generate(ctx, root)
    if suite.made_at_import:
        assert collected_ids(root) == []
        listing = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(root)],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert sum("::" in line for line in listing.stdout.splitlines()) == written, listing.stdout[-2000:]
    else:
        assert len(collected_ids(root)) == written
    if suite.keyword is not None:
        assert len(collected_ids(root, suite.keyword)) == 1
    tools = suite_tools(ctx, suite, written)  # type: ignore[arg-type]
    assert [tool.key for tool in tools] == ["dbtest", "pytest", "xdist", *(["baseline"] if suite.baseline else [])]


def test_the_pytest_feature_corpora_and_their_baseline(tmp_path: Path) -> None:
    """(g)'s cases have pytest's ids, one per case; the baseline of (g) and (h) is
    as many plain tests in the same directories."""
    generate.gen_parametrized(tmp_path / "g")
    ids = collected_ids(tmp_path / "g")
    assert len(set(ids)) == len(ids) == 5000
    assert "d0/test_param_7.py::test_param_7[99]" in ids
    plain = tmp_path / "plain"
    assert generate.gen_flat(plain, FEATURE_FILES, FEATURE_PER_FILE) == len(collected_ids(plain)) == 5000

    def layout(root: Path) -> list[Path]:
        return sorted(path.relative_to(root).parent for path in root.rglob("test_*.py"))

    generate.gen_fixtures(tmp_path / "h")
    assert layout(plain) == layout(tmp_path / "g") == layout(tmp_path / "h")


@pytest.mark.parametrize("corpus", ["parametrized", "fixtures"])
def test_small_feature_corpora_pass_under_both_runners(tmp_path: Path, corpus: str) -> None:
    """What the benchmark checks of every run: each tool passes every test."""
    written = getattr(generate, f"gen_{corpus}")(tmp_path, 2, 3)
    assert written == 6
    run = run_dbtest("-j", "2", str(tmp_path), cwd=tmp_path)
    counts = dbtest_counts(run.stdout)
    assert counts is not None and (counts.passed, counts.failed, counts.errors) == (6, 0, 0), run
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    counts = pytest_counts(done.stdout)
    assert counts is not None and (counts.passed, counts.failed, counts.errors) == (6, 0, 0), done.stdout


class RecordingContext(SimpleNamespace):
    """A Context whose commands are not run but recorded, each "taking" 0.1 s."""

    def __init__(self, work: Path, repeat: int) -> None:
        super().__init__(work=work, repeat=repeat, jobs=2, ran=[])
        self.dbtest = lambda *a: ["dbtest", *a]
        self.pytest = lambda *a: ["pytest", *a]

    def run_tool(self, tool: Tool, cwd: Path, sample_rss: bool = False) -> Measurement:
        self.ran.append((tool.label, (tool.cwd or cwd).name))
        return Measurement(wall=0.1, returncode=0, stdout="", stderr="", largest_rss_kib=1)


def test_the_baseline_and_the_listings_are_timed_in_the_suites_rounds(tmp_path: Path) -> None:
    ctx = RecordingContext(tmp_path, repeat=2)
    suite = next(suite for suite in SUITES if suite.key == "g")
    result = run_suite(ctx, suite)  # type: ignore[arg-type]
    one_round = [
        ("dbtest -j 2", "g_parametrize"),
        ("pytest", "g_parametrize"),
        ("pytest -n 2", "g_parametrize"),
        ("dbtest -j 2, 5,000 plain tests", BASELINE_DIR),
    ]
    listings = [(DBTEST_LIST, "g_parametrize"), (PYTEST_COLLECT, "g_parametrize")]
    # Warm-ups (the runs, then the listings), then the rounds.
    assert ctx.ran == one_round + listings + (one_round + listings) * 2
    assert result.walls == {key: [0.1, 0.1] for key in ("dbtest", "pytest", "xdist", "baseline")}
    assert result.extra == {DBTEST_LIST: [0.1, 0.1], PYTEST_COLLECT: [0.1, 0.1]}
    assert len(collected_ids(tmp_path / BASELINE_DIR)) == 5000


def test_the_overhead_trees_and_the_one_test_project(tmp_path: Path) -> None:
    assert generate.gen_flat(tmp_path / "flat", 120, 3) == len(collected_ids(tmp_path / "flat")) == 360
    assert generate.gen_small(tmp_path / "small") == len(collected_ids(tmp_path / "small")) == 1


def test_dbtest_summary_line_is_parsed(tmp_path: Path) -> None:
    generate.write_test_modules(tmp_path, "x", 2, 3, "", "assert True")
    run = run_dbtest("-j", "2", str(tmp_path), cwd=tmp_path)
    counts = dbtest_counts(run.stdout)
    assert counts is not None and (counts.passed, counts.failed, counts.errors) == (6, 0, 0), run


def test_pytest_summary_lines_are_parsed() -> None:
    counts = pytest_counts("....\n========= 3 passed, 1 failed, 2 errors in 0.52s =========\n")
    assert counts is not None and (counts.passed, counts.failed, counts.errors) == (3, 1, 2)
    assert pytest_counts("no summary here\n") is None


def test_medians_and_differences_per_test() -> None:
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([]) != stats.median([])  # nan: nothing measured
    assert stats.per_unit({10: [1.0, 3.0], 110: [5.0]}, 10, 110) == pytest.approx(0.03)
    assert stats.per_call(3, lambda: None, rounds=2) >= 0
    assert stats.median_time(2, lambda: None) >= 0


def made_up_results() -> tuple[dict[str, SuiteResult], Micro, Overhead]:
    suites = {}
    for suite in SUITES:
        tools = [Tool(key, key, [key], lambda argv, m: None) for key in ("dbtest", "pytest", "xdist")]
        result = SuiteResult(
            suite.key, suite.title, 10, tools, walls={"dbtest": [1.0], "pytest": [3.0], "xdist": [2.0]}
        )
        result.rss = {"dbtest": 40_000, "pytest": 30_000, "xdist": 90_000}
        if suite.cpu_bound:
            for name in ("in-run wall", "in-run test time", "in-run longest", "serial", "longest", "probe"):
                result.extra[name] = [1.5, 1.0]
        if suite.keyword:
            result.extra["modules imported by dbtest"] = [1.0]
            result.notes["modules imported by dbtest"] = "test_heavy_37"
        if suite.baseline:
            result.tools.append(Tool("baseline", "baseline", ["baseline"], lambda argv, m: None))
            result.walls["baseline"] = [0.6]  # dbtest takes 1.67× its baseline
        if suite.listing:
            result.extra[DBTEST_LIST] = [0.02]
            result.extra[PYTEST_COLLECT] = [1.5]  # 75×
        suites[suite.key] = result
    names = [
        "dbtest --version",
        "dbtest list (1 test)",
        "dbtest run (1 test)",
        "collect 200 files / 5,000 tests",
        "collect 100 files / 2,500 tests",
        "select 1,000 ids (-k and -m)",
        "dbtest list (200 files)",
        "pytest --collect-only -q (200 files)",
    ]
    micro = Micro(figures={name: 0.002 for name in names})
    small, large = SIZES
    series = {small: [1.0], large: [2.0]}
    overhead = Overhead(
        SIZES, wall=series, cpu=series, rss_kib={small: [30_000.0], large: [60_000.0]}, in_worker=series
    )
    return suites, micro, overhead


def test_budgets_and_report_from_made_up_figures(tmp_path: Path) -> None:
    suites, micro, overhead = made_up_results()
    items = budgets(2, suites, micro, overhead)
    assert {item.verdict for item in items} <= {"PASS", "FAIL", "info"}
    by_name = {item.name: item for item in items}
    assert by_name["(a) vs pytest"].verdict == "FAIL"  # 3× where 5× is asked
    assert by_name["(d) modules dbtest -k imports"].verdict == "PASS"
    assert by_name["(g) parametrized cases vs plain tests"].verdict == "FAIL"  # 1.67× where 1.5× is allowed
    assert by_name["(h) conftest fixtures vs plain tests"].verdict == "PASS"  # within 2×
    assert by_name["(g) dbtest list vs pytest --collect-only -q"].verdict == "PASS"
    old = tmp_path / "benchmarks.md"
    old.write_text(f"old figures\n{report.ANALYSIS_BEGIN}\nhand-written\n{report.ANALYSIS_END}\n")
    text = report.render(["- machine"], old, suites, micro, overhead, None, items, 60.0)
    for heading in ("## Results (median wall time)", "## Budgets", "## Start-up, collection, overhead"):
        assert heading in text
    assert "hand-written" in text and "old figures" not in text
    for key, result in suites.items():
        assert f"| ({key}) {result.title}<br>" in text
    for item in items:
        assert f"| {item.name} | {item.measured} | {item.limit} | **{item.verdict}** |" in text


def test_plain_probes(tmp_path: Path) -> None:
    assert probe("spin", cwd=tmp_path)["per_second"] > 0
    generate.gen_flat(tmp_path / "flat", 3, 5)
    assert probe("serial", str(tmp_path / "flat"), cwd=tmp_path)["count"] == 15
    out = tmp_path / "usage.json"
    done = bench("_probe", "coordinator", str(out), "-j", "1", str(tmp_path / "flat"), cwd=tmp_path)
    counts = dbtest_counts(done.stdout)
    assert done.returncode == 0 and counts is not None and counts.passed == 15, done
    assert set(json.loads(out.read_text())) == {"maxrss_kib", "cpu"}


def test_core_probe_on_suite_a(tmp_path: Path) -> None:
    generate.gen_trivial_packages(tmp_path / "a")
    data = probe("core", str(tmp_path / "a"), "1", cwd=tmp_path)
    assert {"collect_200", "collect_100", "document_200", "select_1000"} <= set(data)
    assert data["select_note"].endswith("of 1,000")


def test_worker_probes_drive_a_real_worker(tmp_path: Path) -> None:
    generate.gen_small(tmp_path / "small")
    assert set(probe("handshake", str(tmp_path / "small"), "1", cwd=tmp_path)) == {"hello", "first_result"}
    generate.gen_flat(tmp_path / "flat", 3, 5)
    data = probe("worker", str(tmp_path / "flat"), "--profile", cwd=tmp_path)
    assert data["passed"] == 15 and data["counts"] == {"passed": 15}
    assert "test function call (floor)" in data["components"]
    assert len(data["profile"]["top"]) == 25, "the worker's profile was written and read"


@pytest.mark.parametrize(
    ("dbtest_wall", "xdist_wall", "verdict"),
    [
        (0.56, 1.9, "PASS"),  # within 1.2× the 0.5 s floor, however fast pytest -n 8 was
        (0.59, 4.0, "PASS"),
        (0.65, 5.0, "FAIL"),  # past 1.2× the floor, however slow pytest -n 8 was
    ],
)
def test_the_sleep_suite_is_judged_against_its_sleep_floor(dbtest_wall: float, xdist_wall: float, verdict: str) -> None:
    from benchmarks.budgets import budget_sleep

    assert generate.SLEEP_FLOOR == 0.5
    tools = [Tool(key, key, [key], lambda argv, m: None) for key in ("dbtest", "xdist")]
    result = SuiteResult("c", "sleep", 80, tools, walls={"dbtest": [dbtest_wall], "xdist": [xdist_wall]})
    budget = budget_sleep(result)
    assert budget.verdict == verdict, budget
    assert budget.limit == "≤ 1.2× (0.600 s)", budget


def test_the_first_run_suite_never_lets_dbtest_read_durations(tmp_path: Path) -> None:
    ctx = RecordingContext(tmp_path, repeat=1)
    suite = next(suite for suite in SUITES if suite.key == "i")
    root = tmp_path / suite.directory
    tools = suite_tools(ctx, suite, suite.generate(SimpleNamespace(spins=lambda seconds: 3), root))  # type: ignore[arg-type]
    assert tools[0].argv == ["dbtest", "-j", "2", "--no-cache"]
    assert all("--no-cache" not in tool.argv for tool in tools[1:])
    ran: list[list[str]] = []
    ctx.run = lambda argv, cwd, sample_rss=False: ran.append(list(argv))
    extras = suite_extras(ctx, suite, root, 204)  # type: ignore[arg-type]
    try:
        extras[-1]()
    except Exception:  # noqa: BLE001 - the recorded run wrote no report; only its command matters
        pass
    assert "--no-cache" in ran[-1], ran


def test_the_changed_project_has_its_modules_tests_and_leaf(tmp_path: Path) -> None:
    from benchmarks.changed import AFFECTED_TESTS, gen_changed_project

    leaf = gen_changed_project(tmp_path)
    assert leaf == tmp_path / "app" / "p00" / "m0.py"
    assert len(list((tmp_path / "app").rglob("m*.py"))) == 500
    assert len(collected_ids(tmp_path)) == 2000
    importers = [p.name for p in (tmp_path / "tests").glob("*.py") if "from app.p00." in p.read_text()]
    assert len(importers) * 20 == AFFECTED_TESTS
