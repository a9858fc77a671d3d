"""Where time goes: a worker process under cProfile (driven over its protocol),
and perf samples of the coordinator process."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .commands import BenchError
from .context import Context, probe_json
from .formatting import log, tail
from .overhead import SIZES, overhead_root

PERF_HZ = 4999
PERF_SAMPLE = re.compile(r"^\s*(.+?)\s+(\d+)/(\d+)\s+[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)\s*$")


@dataclass
class PerfProfile:
    """Samples of the coordinator process (all its threads, no workers)."""

    samples: int = 0
    symbols: Counter[tuple[str, str]] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)
    objects: Counter[str] = field(default_factory=Counter)


@dataclass
class Profiles:
    worker: list[dict[str, Any]] = field(default_factory=list)
    worker_tests: int = 0
    worker_profiled_total: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    perf_small: PerfProfile | None = None
    perf_large: PerfProfile | None = None
    coordinator_note: str = ""


def profile_worker(ctx: Context, profiles: Profiles) -> None:
    data = probe_json(ctx, "worker", str(overhead_root(ctx, SIZES[0])), "--profile")
    profiles.worker = data["profile"]["top"]
    profiles.worker_profiled_total = data["profile"]["total"]
    profiles.worker_tests = data["passed"]
    profiles.components = data["components"]


def perf_record(ctx: Context, root: Path) -> PerfProfile:
    data = ctx.work / f"perf-{root.name}.data"
    argv = ["perf", "record", "-e", "cpu-clock", "-F", str(PERF_HZ), "-o", str(data), "--"]
    m = ctx.run([*argv, *ctx.dbtest("-j", str(ctx.jobs))], root)
    if m.returncode != 0:
        raise BenchError(f"perf record failed: {tail(m.stderr, 3)}")
    script = ["perf", "script", "-i", str(data), "-F", "comm,pid,tid,ip,sym,dso"]
    text = subprocess.run(script, capture_output=True, text=True, check=True).stdout
    rows = [found.groups() for found in map(PERF_SAMPLE.match, text.splitlines()) if found]
    # The coordinator is the first `dbtest` process; its threads are named dbtest-w1-results etc.
    pid = min((int(r[1]) for r in rows if r[0] == "dbtest"), default=-1)
    profile = PerfProfile()
    for comm, sample_pid, _, symbol, dso in rows:
        if int(sample_pid) != pid:
            continue
        name = Path(dso).name
        profile.samples += 1
        profile.symbols[(name, symbol)] += 1
        profile.threads[comm] += 1
        profile.objects[name] += 1
    if not profile.samples:
        raise BenchError("perf recorded no samples of the coordinator process")
    return profile


def profile_coordinator(ctx: Context, profiles: Profiles) -> None:
    """perf of the coordinator on 5,000 and 50,000 tests: what it spends, and
    which symbols grow with the number of tests (Δ samples ÷ Δ tests)."""
    if shutil.which("perf") is None:
        profiles.coordinator_note = "perf is not installed: see the CPU-per-test figures instead."
        return
    try:
        profiles.perf_small = perf_record(ctx, overhead_root(ctx, SIZES[0]))
        profiles.perf_large = perf_record(ctx, overhead_root(ctx, SIZES[1]))
    except (BenchError, subprocess.CalledProcessError, OSError) as exc:
        profiles.coordinator_note = f"perf failed: {exc}"
        return
    small, large = profiles.perf_small, profiles.perf_large
    per_test = (large.samples - small.samples) / PERF_HZ / (SIZES[1] - SIZES[0])
    profiles.coordinator_note = (
        f"`perf record -e cpu-clock -F {PERF_HZ}` of `dbtest -j {ctx.jobs}` on the 5,000- and 50,000-test trees; "
        f"samples of the coordinator process only (all its threads, no workers): {small.samples} and "
        f"{large.samples}, i.e. {small.samples / PERF_HZ:.3f} s and {large.samples / PERF_HZ:.3f} s of CPU, "
        f"{per_test * 1e6:.1f} µs per additional test."
    )


def symbol_growth(profiles: Profiles) -> list[tuple[float, float, str, str]]:
    """(µs per test, share of the large run, object, symbol), by growth."""
    small, large = profiles.perf_small, profiles.perf_large
    if small is None or large is None:
        return []
    rows = []
    for key, count in large.symbols.items():
        growth = (count - small.symbols.get(key, 0)) / PERF_HZ / (SIZES[1] - SIZES[0])
        rows.append((growth * 1e6, 100 * count / large.samples, key[0], key[1]))
    rows.sort(reverse=True)
    return rows


def shares_text(counter: Counter[str], total: int) -> str:
    return ", ".join(f"{name} {100 * n / total:.1f}%" for name, n in counter.most_common() if n / total >= 0.005)


def run_profiles(ctx: Context) -> Profiles:
    profiles = Profiles()
    profile_worker(ctx, profiles)
    profile_coordinator(ctx, profiles)
    print_profiles(profiles)
    return profiles


def print_profiles(profiles: Profiles) -> None:
    log("(profile) worker per-test path, unprofiled: per call, or per test of one run")
    for name, value in profiles.components.items():
        log(f"    {value * 1e6:7.2f} µs  {name}")
    log("(profile) worker, cProfile, share of own time")
    for row in profiles.worker[:12]:
        share = 100 * row["tottime"] / max(profiles.worker_profiled_total, 1e-9)
        log(f"    {share:5.1f}%  {row['ncalls']:>8}  {row['function']}")
    log("(profile) coordinator, perf: symbols by growth per test")
    large = profiles.perf_large
    if large is not None:
        log("    " + shares_text(large.objects, large.samples))
        log("    " + shares_text(large.threads, large.samples))
    for growth, share, dso, symbol in symbol_growth(profiles)[:15]:
        log(f"    {growth:5.2f} µs/test {share:5.1f}%  {dso[:24]:<24} {symbol[:80]}")
    if profiles.coordinator_note:
        log(f"    {profiles.coordinator_note}")
