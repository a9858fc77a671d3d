"""Micro-figures: start-up of the interpreter, the commands and a worker; static
collection and selection in-process; `dbtest list` against `pytest --collect-only`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .commands import Check, Tool, all_passed, collected, dbtest_counts, listed, ok_exit
from .context import Context, alternate, probe_json
from .formatting import log, ms
from .generate import gen_small
from .stats import median


@dataclass
class Micro:
    figures: dict[str, float] = field(default_factory=dict)  # seconds unless noted
    notes: dict[str, str] = field(default_factory=dict)


def timed_median(ctx: Context, argv: Sequence[str], cwd: Path, reps: int, check: Check) -> float:
    walls = []
    for _ in range(reps):
        m = ctx.run(argv, cwd)
        check(argv, m)
        walls.append(m.wall)
    return median(walls)


def micro_startup(ctx: Context, micro: Micro, small: Path) -> None:
    """Each command ``ctx.micro_repeat`` times on a one-test project, then a worker's
    start-up as the coordinator sees it."""
    commands: list[tuple[str, list[str], Check]] = [
        ("python -c pass", ctx.python("-c", "pass"), ok_exit),
        ("dbtest --version", ctx.dbtest("--version"), ok_exit),
        ("dbtest list (1 test)", ctx.dbtest("list"), listed(1)),
        ("dbtest run (1 test)", ctx.dbtest("-j", str(ctx.jobs)), all_passed(1, dbtest_counts)),
        ("pytest --version", ctx.pytest("--version"), ok_exit),
    ]
    for name, argv, check in commands:
        micro.figures[name] = timed_median(ctx, argv, small, ctx.micro_repeat, check)
    data = probe_json(ctx, "handshake", str(small), str(ctx.micro_repeat), cwd=small)
    micro.figures["worker spawn → hello"] = data["hello"]
    micro.figures["worker spawn → first result"] = data["first_result"]


def micro_collection(ctx: Context, micro: Micro, tree200: Path) -> None:
    """dbtest._core in-process on the 200-file tree, then the two commands that
    list its 5,000 tests, alternated after one warm-up each."""
    data = probe_json(ctx, "core", str(tree200), str(max(10, ctx.micro_repeat * 2)))
    f = micro.figures
    f["collect 200 files / 5,000 tests"] = data["collect_200"]
    f["collect 100 files / 2,500 tests"] = data["collect_100"]
    f["collect 200 files + JSON document of 5,000"] = data["document_200"]
    f["select 1,000 ids (-k and -m)"] = data["select_1000"]
    micro.notes["select"] = data["select_note"]
    tools = [
        Tool("dbtest", "dbtest list", ctx.dbtest("list"), listed(5000)),
        Tool("pytest", "pytest --collect-only -q", ctx.pytest("--collect-only", "-q"), collected(5000)),
    ]
    for tool in tools:
        ctx.run_tool(tool, tree200)  # warm-up
    walls = alternate(ctx, tools, tree200)
    f["dbtest list (200 files)"] = median(walls["dbtest"])
    f["pytest --collect-only -q (200 files)"] = median(walls["pytest"])


def run_micro(ctx: Context, tree200: Path) -> Micro:
    micro = Micro()
    small = ctx.work / "small"
    gen_small(small)
    micro_startup(ctx, micro, small)
    micro_collection(ctx, micro, tree200)
    log("(micro) start-up, collection, selection")
    for name, value in micro.figures.items():
        log(f"    {name:<40} {ms(value):>12}")
    return micro
