"""The coordinator's cost per test: the same run on 5,000 and 50,000 trivial
tests with one worker, by difference (every fixed cost cancels out)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .commands import BenchError, Measurement, check_counts, dbtest_counts
from .context import Context, probe_json
from .formatting import log, mib, secs
from .generate import gen_flat
from .stats import median, per_unit

SIZES = (5000, 50000)
# The coordinator's peak RSS on this many trivial tests (MEMORY_FILES files of
# MEMORY_PER_FILE) has a budget of its own: memory flat in the number of tests.
MEMORY_FILES, MEMORY_PER_FILE = 2000, 50
MEMORY_TESTS = MEMORY_FILES * MEMORY_PER_FILE


def overhead_root(ctx: Context, tests: int) -> Path:
    """The flat tree of ``tests`` trivial tests, 100 per file (profiles reuse it)."""
    return ctx.work / f"overhead_{tests}"


@dataclass
class Overhead:
    sizes: tuple[int, int]
    wall: dict[int, list[float]] = field(default_factory=dict)
    cpu: dict[int, list[float]] = field(default_factory=dict)
    rss_kib: dict[int, list[float]] = field(default_factory=dict)
    in_worker: dict[int, list[float]] = field(default_factory=dict)
    # Peak RSS of the coordinator process on MEMORY_TESTS tests (a warm run).
    memory_rss_kib: list[float] = field(default_factory=list)

    def per_test(self, series: dict[int, list[float]]) -> float:
        return per_unit(series, *self.sizes)

    @property
    def cpu_per_test(self) -> float:
        return self.per_test(self.cpu)

    @property
    def wall_per_test(self) -> float:
        return self.per_test(self.wall)

    @property
    def worker_per_test(self) -> float:
        return self.per_test(self.in_worker)

    @property
    def rss_per_test(self) -> float:
        """Bytes."""
        return self.per_test(self.rss_kib) * 1024


def coordinator_run(ctx: Context, root: Path, expected: int) -> tuple[Measurement, dict[str, float]]:
    """`dbtest -j 1` in a wrapper that reports the coordinator process's own usage."""
    out = root / "probe.json"
    argv = ctx.probe("coordinator", str(out), "-j", "1", str(root))
    m = ctx.run(argv, root)
    check_counts(argv, m, dbtest_counts(m.stdout), expected)
    return m, json.loads(out.read_text())


def in_worker_time(ctx: Context, root: Path, expected: int) -> float:
    """One worker driven over its protocol through every module of ``root``: the
    time from the first job sent to the last batch done."""
    data = probe_json(ctx, "worker", str(root))
    if data["passed"] != expected:
        raise BenchError(f"worker run of {root}: {data['passed']} passed, expected {expected}")
    return data["seconds"]


def run_overhead(ctx: Context) -> Overhead:
    """Coordinator cost per test: the same runner on 5,000 and 50,000 trivial tests
    (100 per file) with one worker; differences between the two cancel every fixed
    cost (interpreter, click, worker start-up)."""
    roots = {n: overhead_root(ctx, n) for n in SIZES}
    for n, root in roots.items():
        gen_flat(root, n // 100, 100)
        coordinator_run(ctx, root, n)  # warm-up: .pyc files, durations
    memory_root = ctx.work / f"memory_{MEMORY_TESTS}"
    gen_flat(memory_root, MEMORY_FILES, MEMORY_PER_FILE)
    coordinator_run(ctx, memory_root, MEMORY_TESTS)  # warm-up: durations recorded, as on a second run
    result = Overhead(SIZES)
    for _ in range(ctx.repeat):
        for n, root in roots.items():
            m, usage = coordinator_run(ctx, root, n)
            result.wall.setdefault(n, []).append(m.wall)
            result.cpu.setdefault(n, []).append(usage["cpu"])
            result.rss_kib.setdefault(n, []).append(usage["maxrss_kib"])
            result.in_worker.setdefault(n, []).append(in_worker_time(ctx, root, n))
        result.memory_rss_kib.append(coordinator_run(ctx, memory_root, MEMORY_TESTS)[1]["maxrss_kib"])
    print_overhead(result)
    return result


def print_overhead(result: Overhead) -> None:
    log("(overhead) one worker, 5,000 vs 50,000 trivial tests")
    for n in result.sizes:
        log(
            f"    {n:>6} tests: wall {secs(median(result.wall[n]))}, coordinator CPU {secs(median(result.cpu[n]))}, "
            f"coordinator peak RSS {mib(int(median(result.rss_kib[n])))}, in-worker {secs(median(result.in_worker[n]))}"
        )
    log(
        f"    per test: coordinator CPU {result.cpu_per_test * 1e6:.1f} µs, wall {result.wall_per_test * 1e6:.1f} µs, "
        f"in-worker {result.worker_per_test * 1e6:.1f} µs, RSS growth {result.rss_per_test:.0f} B"
    )
    if result.memory_rss_kib:
        log(f"    {MEMORY_TESTS:,} tests ({MEMORY_FILES} files): coordinator peak RSS {memory_text(result)}")


def memory_text(result: Overhead) -> str:
    """The coordinator's median peak RSS on MEMORY_TESTS tests, and its range."""
    values = result.memory_rss_kib
    return f"{mib(int(median(values)))} (range {min(values) / 1024:.1f}–{max(values) / 1024:.1f} MiB)"
