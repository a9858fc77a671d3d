"""What every section of a run shares: the environment's commands, the work
directory, the repetitions, the busy loop's calibration, the probes."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .commands import Measurement, Tool, explain, run_command, run_tool
from .environment import BENCH_SCRIPT, Env
from .generate import SPIN_SOURCE


@dataclass
class Context:
    env: Env
    work: Path
    repeat: int
    micro_repeat: int
    jobs: int
    run_env: dict[str, str]
    spin_per_second: float = 0.0
    probes: list[float] = field(default_factory=list)

    def spins(self, seconds: float) -> int:
        """Iterations of the busy loop that take ``seconds`` on this machine."""
        return max(1, int(self.spin_per_second * seconds))

    def python(self, *args: str) -> list[str]:
        return [str(self.env.python), *args]

    def probe(self, name: str, *args: str) -> list[str]:
        """`scripts/bench _probe NAME ...`, run by the environment's interpreter."""
        return self.python(str(BENCH_SCRIPT), "_probe", name, *args)

    def dbtest(self, *args: str) -> list[str]:
        return [self.env.dbtest, *args]

    def pytest(self, *args: str) -> list[str]:
        return [self.env.pytest, *args]

    def run(self, argv: Sequence[str], cwd: Path, sample_rss: bool = False) -> Measurement:
        return run_command(argv, cwd, self.run_env, sample_rss)

    def run_tool(self, tool: Tool, cwd: Path, sample_rss: bool = False) -> Measurement:
        return run_tool(tool, cwd, self.run_env, sample_rss)


def probe_json(ctx: Context, name: str, *args: str, cwd: Path | None = None) -> Any:
    """The JSON answer (the last line of stdout) of one probe."""
    argv = ctx.probe(name, *args)
    m = ctx.run(argv, cwd or ctx.work)
    if m.returncode != 0:
        raise explain(argv, m, "probe failed")
    return json.loads(m.stdout.strip().splitlines()[-1])


def calibrate_spin(ctx: Context) -> None:
    ctx.spin_per_second = probe_json(ctx, "spin")["per_second"]


def parallel_probe(ctx: Context, seconds: float = 0.3) -> float:
    """How many times more CPU work two processes get done than one, right now
    (2.0: two free cores; 1.0: no parallelism)."""
    code = SPIN_SOURCE + f"_spin({ctx.spins(seconds)})\n"
    argv = ctx.python("-c", code)
    one = ctx.run(argv, ctx.work).wall
    start = time.perf_counter()
    pair = [subprocess.Popen(argv, cwd=ctx.work, env=ctx.run_env) for _ in range(2)]
    for process in pair:
        process.wait()
    two = time.perf_counter() - start
    capacity = 2 * one / two
    ctx.probes.append(capacity)
    return capacity


def alternate(
    ctx: Context, tools: Sequence[Tool], cwd: Path, after_round: Callable[[], None] | None = None
) -> dict[str, list[float]]:
    """``ctx.repeat`` rounds of every tool in turn (so that a slow phase of the
    machine hits them all alike): each tool's wall times, in order."""
    walls: dict[str, list[float]] = {}
    for _ in range(ctx.repeat):
        for tool in tools:
            walls.setdefault(tool.key, []).append(ctx.run_tool(tool, cwd).wall)
        if after_round is not None:
            after_round()
    return walls
