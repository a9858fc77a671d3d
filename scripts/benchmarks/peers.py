"""The peers section: dbtest beside karva, rustest, pytest and pytest-xdist on
the same generated corpora, each tool timed cold and warm.

A cold run finds no cache of any tool: no `.dbtest/`, `.pytest_cache/`,
`.karva_cache/`, `.rustest_cache/` or `__pycache__/` in the corpus, and an
empty `XDG_CACHE_HOME` (dbtest keeps its rewrite cache under it). The warm run
follows it at once, with what the cold run left. Rounds alternate the tools
(the order turns by one each round); medians are reported. Every run's pass
count is read from the tool's own summary and must equal the corpus's test
count: a peer that ran fewer tests (or none), failed some or crashed is "not
comparable" on that corpus, said in one line, and is not timed there again.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .commands import BenchError, Counts, Measurement, dbtest_counts, explain, pytest_counts, run_command
from .context import Context
from .environment import PEERS as PEER_REQUIREMENTS
from .formatting import log, secs, times
from .generate import gen_cpu, gen_fixtures, gen_parametrized, gen_trivial_packages
from .stats import median

PEERS = tuple(requirement.split("==")[0] for requirement in PEER_REQUIREMENTS)
# Caches the tools leave in a project, removed before every cold run.
CACHE_DIRS = (".dbtest", ".pytest_cache", ".karva_cache", ".rustest_cache")


@dataclass(frozen=True)
class Corpus:
    key: str
    directory: str
    title: str
    generate: Callable[[Context, Path], int]
    imports_pytest: bool = False  # rustest needs --pytest-compat for it


CORPORA: tuple[Corpus, ...] = (
    Corpus("trivial", "peers_trivial", "5,000 trivial tests, 200 files", lambda ctx, root: gen_trivial_packages(root)),
    Corpus("cpu", "peers_cpu", "50 CPU-bound tests of ~60 ms", lambda ctx, root: gen_cpu(root, ctx.spins(0.060))),
    Corpus(
        "parametrized",
        "peers_parametrized",
        "5,000 parametrized cases (50 × 100 literals)",
        lambda ctx, root: gen_parametrized(root),
        imports_pytest=True,
    ),
    Corpus(
        "fixtures",
        "peers_fixtures",
        "5,000 tests using conftest fixtures (function and module)",
        lambda ctx, root: gen_fixtures(root),
        imports_pytest=True,
    ),
)

# -- reading the peers' summaries ------------------------------------------------------

KARVA_SUMMARY = re.compile(r"(\d+) tests? run: (\d+) passed(?:, (\d+) failed)?")
COUNT = re.compile(r"(\d+) (passed|failed|errors?)\b")


def karva_counts(stdout: str) -> Counts | None:
    """`Summary [ 0.4s] 2 tests run: 1 passed, 1 failed, 0 skipped`."""
    for line in reversed(stdout.splitlines()):
        found = KARVA_SUMMARY.search(line)
        if found:
            return Counts(int(found.group(2)), int(found.group(3) or 0), 0)
    return None


def rustest_counts(stdout: str) -> Counts | None:
    """`✓ 1 passed, ✗ 1 failed in 6ms` (the last non-empty line of its stderr,
    where it writes everything)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines or " in " not in lines[-1]:
        return None
    found = {kind.rstrip("s"): int(n) for n, kind in COUNT.findall(lines[-1])}
    if not found and not re.match(r"\s*0 tests\b", lines[-1]):
        return None
    return Counts(found.get("passed", 0), found.get("failed", 0), found.get("error", 0))


def shortfall(m: Measurement, counts: Counts | None, expected: int) -> str | None:
    """Why a run does not count (None: it ran every test, all passing)."""
    if counts is None:
        lines = [line.strip() for line in (m.stdout + "\n" + m.stderr).splitlines() if line.strip()]
        return f"no summary line (exit {m.returncode}): {(lines[-1] if lines else 'no output')[:120]}"
    if counts.passed != expected or counts.failed or counts.errors or m.returncode != 0:
        failed = f", {counts.failed} failed, {counts.errors} errors" if counts.failed or counts.errors else ""
        return f"{counts.passed} of {expected} tests passed{failed} (exit {m.returncode})"
    return None


# -- one tool ---------------------------------------------------------------------------


@dataclass
class PeerTool:
    key: str  # dbtest, pytest, xdist, karva, rustest
    label: str
    argv: list[str]
    parse: Callable[[str], Counts | None]
    peer: bool  # a peer is "not comparable" on failure; dbtest and pytest stop the benchmark
    summary_on_stderr: bool = False  # rustest writes everything to stderr

    def counts(self, m: Measurement) -> Counts | None:
        return self.parse(m.stderr if self.summary_on_stderr else m.stdout)


def peer_tools(ctx: Context, corpus: Corpus) -> list[PeerTool]:
    jobs = str(ctx.jobs)
    scripts = ctx.env.scripts
    rustest_args = ["-n", jobs, "--color", "never", *(["--pytest-compat"] if corpus.imports_pytest else [])]
    karva_args = ["test", "-n", jobs, "--color", "never", "--status-level", "fail"]
    return [
        PeerTool("dbtest", f"dbtest -j {jobs}", ctx.dbtest("-j", jobs), dbtest_counts, peer=False),
        PeerTool("pytest", "pytest", ctx.pytest(), pytest_counts, peer=False),
        PeerTool("xdist", f"pytest -n {jobs}", ctx.pytest("-n", jobs), pytest_counts, peer=False),
        PeerTool("karva", f"karva test -n {jobs}", [str(scripts / "karva"), *karva_args], karva_counts, peer=True),
        PeerTool(
            "rustest",
            "rustest " + " ".join(a for a in rustest_args if a not in ("--color", "never")),
            [str(scripts / "rustest"), *rustest_args],
            rustest_counts,
            peer=True,
            summary_on_stderr=True,
        ),
    ]


def make_cold(root: Path) -> None:
    """Removes every cache a tool left in the corpus."""
    for name in CACHE_DIRS:
        shutil.rmtree(root / name, ignore_errors=True)
    for pycache in list(root.rglob("__pycache__")):
        shutil.rmtree(pycache, ignore_errors=True)


# -- a corpus ----------------------------------------------------------------------------


@dataclass
class CorpusResult:
    key: str
    title: str
    tests: int
    labels: dict[str, str]
    cold: dict[str, list[float]] = field(default_factory=dict)
    warm: dict[str, list[float]] = field(default_factory=dict)
    not_comparable: dict[str, str] = field(default_factory=dict)

    def wall(self, tool: str, phase: str) -> float:
        return median((self.cold if phase == "cold" else self.warm).get(tool, []))

    def ratio(self, tool: str, phase: str) -> float:
        """The tool's time over dbtest's (above 1: dbtest is ahead)."""
        return self.wall(tool, phase) / self.wall("dbtest", phase)

    def comparable(self, tool: str) -> bool:
        return tool not in self.not_comparable and bool(self.cold.get(tool))


def peer_env(ctx: Context, cache_home: Path) -> dict[str, str]:
    """The run environment with the environment's scripts first on PATH (karva
    finds its `karva-worker` there) and ``cache_home`` as XDG_CACHE_HOME."""
    env = dict(ctx.run_env)
    env["PATH"] = f"{ctx.env.scripts}:{env.get('PATH', '')}"
    env["XDG_CACHE_HOME"] = str(cache_home)
    return env


def timed_pair(ctx: Context, tool: PeerTool, root: Path, expected: int) -> tuple[float, float] | str:
    """A cold run, then a warm one: their wall times, or why the tool does not count."""
    make_cold(root)
    cache_home = Path(tempfile.mkdtemp(prefix="xdg-cache-", dir=ctx.work))
    try:
        env = peer_env(ctx, cache_home)
        walls = []
        for _ in ("cold", "warm"):
            m = run_command(tool.argv, root, env)
            problem = shortfall(m, tool.counts(m), expected)
            if problem is not None:
                if not tool.peer:
                    raise explain(tool.argv, m, problem)
                return problem
            walls.append(m.wall)
        return walls[0], walls[1]
    finally:
        shutil.rmtree(cache_home, ignore_errors=True)


def run_corpus(ctx: Context, corpus: Corpus) -> CorpusResult:
    root = ctx.work / corpus.directory
    tests = corpus.generate(ctx, root)
    tools = peer_tools(ctx, corpus)
    result = CorpusResult(corpus.key, corpus.title, tests, {t.key: t.label for t in tools})
    for round_ in range(ctx.repeat):
        turn = round_ % len(tools)
        for tool in tools[turn:] + tools[:turn]:
            if tool.key in result.not_comparable:
                continue
            pair = timed_pair(ctx, tool, root, tests)
            if isinstance(pair, str):
                result.not_comparable[tool.key] = pair
                result.cold.pop(tool.key, None)
                result.warm.pop(tool.key, None)
                log(f"    {tool.label} on {corpus.key}: not comparable: {pair}")
                continue
            result.cold.setdefault(tool.key, []).append(pair[0])
            result.warm.setdefault(tool.key, []).append(pair[1])
    print_corpus(result)
    return result


def run_peers(ctx: Context) -> dict[str, CorpusResult]:
    for peer, requirement in zip(PEERS, PEER_REQUIREMENTS, strict=True):
        if not (ctx.env.scripts / peer).exists():
            raise BenchError(f"{peer} is not installed in {ctx.env.scripts} (pip install {requirement})")
    log("(peers) cold and warm runs, dbtest beside karva, rustest, pytest and pytest-xdist")
    return {corpus.key: run_corpus(ctx, corpus) for corpus in CORPORA}


def print_corpus(result: CorpusResult) -> None:
    lines = [f"  ({result.key}) {result.title}: {result.tests} tests; cold / warm"]
    for tool, label in result.labels.items():
        if tool in result.not_comparable:
            lines.append(f"    {label:<34} not comparable: {result.not_comparable[tool]}")
            continue
        line = f"    {label:<34} {secs(result.wall(tool, 'cold')):>9} / {secs(result.wall(tool, 'warm')):>9}"
        if tool != "dbtest":
            line += f"  ({times(result.ratio(tool, 'cold'))} / {times(result.ratio(tool, 'warm'))} dbtest)"
        lines.append(line)
    log("\n".join(lines))


def peers_table(results: dict[str, CorpusResult]) -> list[str]:
    """The cold/warm table: each tool's median cold / warm time, then each
    tool's time over dbtest's."""
    if not results:
        return []
    labels = next(iter(results.values())).labels
    rows = [
        "| corpus | " + " | ".join(f"`{label}`" for label in labels.values()) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for r in results.values():
        cells = []
        for tool in labels:
            if not r.comparable(tool):
                cells.append(f"not comparable: {r.not_comparable.get(tool, 'not run')}")
                continue
            cell = f"{secs(r.wall(tool, 'cold'))} / {secs(r.wall(tool, 'warm'))}"
            if tool != "dbtest":
                cell += f"<br>({times(r.ratio(tool, 'cold'))} / {times(r.ratio(tool, 'warm'))})"
            cells.append(cell)
        rows.append(f"| {r.title} ({r.tests:,} tests) | " + " | ".join(cells) + " |")
    return rows
