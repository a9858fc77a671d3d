"""Running one command: its wall time, the RSS of its process tree, and checks
that it did what the benchmark needs (the right number of tests passed)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .formatting import tail

RSS_INTERVAL = 0.02


class BenchError(Exception):
    """A run did not do what the benchmark needs (wrong count, failure, crash)."""


@dataclass
class Measurement:
    wall: float
    returncode: int
    stdout: str
    stderr: str
    largest_rss_kib: int  # ru_maxrss of the process tree: its largest single process
    tree_rss_kib: int = 0  # peak of the summed RSS of the tree, when sampled


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, resident KiB) for every process."""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    table: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[21]) * page_kib)
    return table


def tree_rss_kib(root: int) -> int:
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += table.get(pid, (0, 0))[1]
        stack.extend(children.get(pid, ()))
    return total


class RssSampler(threading.Thread):
    """Polls the summed RSS of a process tree (used on untimed runs only)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(OSError, ValueError, IndexError):
                self.peak = max(self.peak, tree_rss_kib(self.pid))
            self.done.wait(RSS_INTERVAL)


def run_command(argv: Sequence[str], cwd: Path, env: dict[str, str], sample_rss: bool = False) -> Measurement:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        sampler = RssSampler(process.pid) if sample_rss else None
        if sampler is not None:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if sampler is not None:
            sampler.done.set()
            sampler.join()
        out.seek(0)
        err.seek(0)
        return Measurement(
            wall=wall,
            returncode=process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            largest_rss_kib=usage.ru_maxrss,
            tree_rss_kib=sampler.peak if sampler is not None else 0,
        )


def explain(argv: Sequence[str], m: Measurement, problem: str) -> BenchError:
    return BenchError(
        f"{' '.join(argv)}: {problem} (exit {m.returncode})\n--- stdout (tail)\n{tail(m.stdout)}\n"
        f"--- stderr (tail)\n{tail(m.stderr)}"
    )


# -- what a run must have done ---------------------------------------------------------

# Raises BenchError when the run of argv, measured as m, did not do its job.
Check = Callable[[Sequence[str], Measurement], None]


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    errors: int = 0


DBTEST_LAST_LINE = re.compile(r"^(\d+) passed, (\d+) failed(.*) in [\d.]+s$")
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?)\b")


def dbtest_counts(stdout: str) -> Counts | None:
    lines = [line for line in stdout.splitlines() if line.strip()]
    match = DBTEST_LAST_LINE.match(lines[-1].strip()) if lines else None
    if match is None:
        return None
    errors = re.search(r"(\d+) errors?", match.group(3))
    return Counts(int(match.group(1)), int(match.group(2)), int(errors.group(1)) if errors else 0)


def pytest_counts(stdout: str) -> Counts | None:
    for line in reversed([line for line in stdout.splitlines() if line.strip()][-3:]):
        found = dict(
            (kind.rstrip("s") if kind.startswith("error") else kind, int(n)) for n, kind in PYTEST_COUNT.findall(line)
        )
        if found and " in " in line:
            return Counts(found.get("passed", 0), found.get("failed", 0), found.get("error", 0))
    return None


def check_counts(argv: Sequence[str], m: Measurement, counts: Counts | None, expected: int) -> None:
    if counts is None:
        raise explain(argv, m, "no summary line found")
    if counts.failed or counts.errors or m.returncode != 0:
        raise explain(argv, m, f"{counts.failed} failed, {counts.errors} errors")
    if counts.passed != expected:
        raise explain(argv, m, f"{counts.passed} passed, expected {expected}")


def all_passed(expected: int, parse: Callable[[str], Counts | None]) -> Check:
    """A test run: exactly ``expected`` tests passed (by its summary line), nothing failed."""

    def check(argv: Sequence[str], m: Measurement) -> None:
        check_counts(argv, m, parse(m.stdout), expected)

    return check


def ok_exit(argv: Sequence[str], m: Measurement) -> None:
    if m.returncode != 0:
        raise explain(argv, m, "failed")


def listed(expected: int) -> Check:
    """``dbtest list`` printed ``expected`` ids."""

    def check(argv: Sequence[str], m: Measurement) -> None:
        ids = [line for line in m.stdout.splitlines() if "::" in line]
        if m.returncode != 0 or len(ids) != expected:
            raise BenchError(f"dbtest list printed {len(ids)} ids, expected {expected}: {tail(m.stderr)}")

    return check


def collected(expected: int) -> Check:
    """``pytest --collect-only -q`` collected ``expected`` tests."""

    def check(argv: Sequence[str], m: Measurement) -> None:
        found = re.search(r"(\d+) tests? collected", m.stdout)
        if m.returncode != 0 or found is None or int(found.group(1)) != expected:
            raise BenchError(f"pytest --collect-only: expected {expected} tests\n{tail(m.stdout)}")

    return check


@dataclass
class Tool:
    key: str  # column: dbtest, pytest, xdist (or baseline)
    label: str  # the command as a reader would type it
    argv: list[str]
    check: Check
    cwd: Path | None = None  # where it runs, when not in the suite's directory (a baseline)


def run_tool(tool: Tool, cwd: Path, env: dict[str, str], sample_rss: bool = False) -> Measurement:
    m = run_command(tool.argv, tool.cwd or cwd, env, sample_rss)
    tool.check(tool.argv, m)
    return m
