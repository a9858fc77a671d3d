"""`scripts/bench`'s peers section and memory budget: the peers' summaries are
read (a peer that ran no test, or not all, is not comparable), corpora are made
cold, and the budgets and the report show every corpus (no timing asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

from .conftest import REPO

BENCH = REPO / "scripts" / "bench"
if str(BENCH.parent) not in sys.path:
    sys.path.insert(0, str(BENCH.parent))

from benchmarks import report  # noqa: E402
from benchmarks.budgets import MEMORY_LIMIT_KIB, budgets  # noqa: E402
from benchmarks.commands import Counts, Measurement  # noqa: E402
from benchmarks.environment import PEERS as PEER_REQUIREMENTS  # noqa: E402
from benchmarks.overhead import SIZES, Overhead  # noqa: E402
from benchmarks.peers import (  # noqa: E402
    CORPORA,
    PEERS,
    CorpusResult,
    karva_counts,
    make_cold,
    peer_tools,
    peers_table,
    rustest_counts,
    shortfall,
)


def measurement(stdout: str, returncode: int = 0) -> Measurement:
    return Measurement(wall=0.1, returncode=returncode, stdout=stdout, stderr="", largest_rss_kib=0)


def test_the_peers_are_pinned() -> None:
    assert PEERS == ("karva", "rustest")
    assert all("==" in requirement for requirement in PEER_REQUIREMENTS)


def test_karva_summaries_are_read() -> None:
    out = "header\n────\n     Summary [   0.399s] 2 tests run: 1 passed, 1 failed, 0 skipped\n"
    assert karva_counts(out) == Counts(1, 1, 0)
    assert karva_counts("Summary [ 5.5s] 5000 tests run: 5000 passed, 0 skipped") == Counts(5000, 0, 0)
    assert karva_counts("error: no tests to run") is None


def test_rustest_summaries_are_read() -> None:
    assert rustest_counts("  ✓ a.py (0ms)\n✓ 5000 passed in 746ms\n") == Counts(5000, 0, 0)
    assert rustest_counts("✓ 1 passed, ✗ 1 failed in 6ms\n") == Counts(1, 1, 0)
    assert rustest_counts("\n0 tests in 0ms\n\n") == Counts(0, 0, 0)
    assert rustest_counts("Traceback (most recent call last):\n  boom\n") is None


def test_a_run_counts_only_when_every_test_passed() -> None:
    expected = 5000
    assert shortfall(measurement("x"), Counts(5000, 0, 0), expected) is None
    assert shortfall(measurement("x"), Counts(0, 0, 0), expected) == "0 of 5000 tests passed (exit 0)"
    failed = shortfall(measurement("x", 1), Counts(4950, 50, 0), expected)
    assert failed == "4950 of 5000 tests passed, 50 failed, 0 errors (exit 1)"
    assert shortfall(measurement("x", 1), Counts(5000, 0, 0), expected) == "5000 of 5000 tests passed (exit 1)"
    crashed = Measurement(wall=0.1, returncode=2, stdout="", stderr="karva failed\n  Cause: x\n", largest_rss_kib=0)
    assert shortfall(crashed, None, expected) == "no summary line (exit 2): Cause: x"


def test_rustest_is_read_from_stderr(tmp_path: Path) -> None:
    from types import SimpleNamespace

    env = SimpleNamespace(scripts=tmp_path, dbtest="dbtest", pytest="pytest")
    ctx = SimpleNamespace(jobs=2, env=env, dbtest=lambda *a: ["dbtest", *a], pytest=lambda *a: ["pytest", *a])
    tools = {tool.key: tool for tool in peer_tools(ctx, CORPORA[0])}  # type: ignore[arg-type]
    out = Measurement(wall=0.1, returncode=0, stdout="", stderr="  ✓ a.py\n✓ 5 passed in 2ms\n", largest_rss_kib=0)
    assert tools["rustest"].counts(out) == Counts(5, 0, 0)
    assert tools["karva"].counts(out) is None
    assert tools["karva"].argv[1:4] == ["test", "-n", "2"]
    assert "--pytest-compat" in {t.key: t for t in peer_tools(ctx, CORPORA[2])}["rustest"].argv  # type: ignore[arg-type]


def test_a_corpus_made_cold_keeps_no_cache(tmp_path: Path) -> None:
    for name in (".dbtest", ".pytest_cache", ".karva_cache", ".rustest_cache", "pkg/__pycache__"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "f").write_text("x")
    (tmp_path / "pkg" / "test_a.py").write_text("def test_a(): pass\n")
    make_cold(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["pkg", "pkg/test_a.py"]


def test_each_peer_corpus_holds_its_tests(tmp_path: Path) -> None:
    from types import SimpleNamespace

    ctx = SimpleNamespace(spins=lambda seconds: 10)
    sizes = {corpus.key: corpus.generate(ctx, tmp_path / corpus.directory) for corpus in CORPORA}  # type: ignore[arg-type]
    assert sizes == {"trivial": 5000, "cpu": 50, "parametrized": 5000, "fixtures": 5000}
    assert [c.key for c in CORPORA if c.imports_pytest] == ["parametrized", "fixtures"]


def made_up_peers() -> dict[str, CorpusResult]:
    labels = {
        "dbtest": "dbtest -j 2",
        "pytest": "pytest",
        "xdist": "pytest -n 2",
        "karva": "karva",
        "rustest": "rustest",
    }
    out = {}
    for corpus in CORPORA:
        result = CorpusResult(corpus.key, corpus.title, 10, labels)
        for tool, (cold, warm) in {"dbtest": (0.6, 0.2), "pytest": (3.0, 2.0), "xdist": (4.0, 3.0)}.items():
            result.cold[tool], result.warm[tool] = [cold], [warm]
        result.cold["karva"], result.warm["karva"] = [0.3], [0.3]  # ahead of dbtest cold
        if corpus.key == "fixtures":
            result.not_comparable["rustest"] = "0 of 5000 tests passed (exit 0)"
        else:
            result.cold["rustest"], result.warm["rustest"] = [0.9], [0.9]
        out[corpus.key] = result
    return out


def test_peer_budgets_and_the_cold_warm_table() -> None:
    peers = made_up_peers()
    by_name = {item.name: item for item in budgets(2, {}, None, None, peers)}
    assert by_name["(peers) trivial: dbtest vs karva"].verdict == "FAIL"  # 0.5× cold
    assert by_name["(peers) trivial: dbtest vs rustest"].verdict == "PASS"
    fixtures = by_name["(peers) fixtures: dbtest vs rustest"]
    assert (fixtures.verdict, fixtures.note) == ("info", "not comparable: 0 of 5000 tests passed (exit 0)")
    assert by_name["(peers) trivial: dbtest cold vs warm"].verdict == "FAIL"  # 3× where 1.5× is allowed
    table = "\n".join(peers_table(peers))
    assert "| `dbtest -j 2` | `pytest` | `pytest -n 2` | `karva` | `rustest` |" in table
    assert "0.600 s / 0.200 s | 3.000 s / 2.000 s<br>(5.00× / 10.0×)" in table
    assert "not comparable: 0 of 5000 tests passed (exit 0)" in table


def test_the_memory_budget_and_the_report(tmp_path: Path) -> None:
    small, large = SIZES
    series = {small: [1.0], large: [2.0]}
    overhead = Overhead(
        SIZES, wall=series, cpu=series, rss_kib={small: [30_000.0], large: [60_000.0]}, in_worker=series
    )
    overhead.memory_rss_kib = [50_000.0, 52_000.0, 70_000.0]
    items = budgets(2, {}, None, overhead, made_up_peers())
    memory = next(item for item in items if item.name == "coordinator peak RSS, 100,000 tests")
    assert (memory.measured, memory.verdict) == ("51 MiB", "PASS")
    overhead.memory_rss_kib = [MEMORY_LIMIT_KIB + 1.0]
    assert next(i for i in budgets(2, {}, None, overhead) if i.name.startswith("coordinator peak")).verdict == "FAIL"
    text = report.render(["- machine"], tmp_path / "b.md", {}, None, overhead, None, items, 1.0, made_up_peers())
    assert "## Peers: cold and warm" in text and "| 5,000 trivial tests, 200 files (10 tests) |" in text
    assert "| (peers) parametrized: dbtest vs karva |" in text
    empty = report.render(["- machine"], tmp_path / "b.md", {}, None, None, None, [], 1.0)
    assert "Not measured in this run (`--only` without `peers`)." in empty
