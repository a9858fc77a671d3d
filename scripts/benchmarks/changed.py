"""The pre-commit loop: `dbtest --changed` on a generated git project of 500
modules and 2,000 tests after one leaf module is edited. What counts is how
soon the first affected test starts (git, discovery, collection and the
import graph included): each test appends the time it starts to a file, and
the figure is the earliest of those less the time the command was started."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from .commands import BenchError
from .context import Context
from .formatting import log, ms
from .stats import median

PACKAGES = 50
MODULES_PER_PACKAGE = 10  # 500 modules
TEST_FILES = 100
TESTS_PER_FILE = 20  # 2,000 tests
# Two test files import the modules of each package; the leaf of package 0 reaches them.
AFFECTED_TESTS = 2 * TESTS_PER_FILE
FIRST_TEST = "--changed: first test starts (500 modules, 2,000 tests, one leaf edited)"
WHOLE_RUN = f"--changed: whole run ({AFFECTED_TESTS} affected tests)"
FIRST_TEST_LIMIT = 0.2

TEST_HEADER = """\
import os
import time

from app.p{package:02d}.m{module} import value


def _started():
    path = os.environ.get("DBTEST_BENCH_STARTS")
    if path:
        with open(path, "a") as log:
            log.write(f"{{time.time()}}\\n")

"""


def gen_changed_project(root: Path) -> Path:
    """The project, committed in a git repository; returns the leaf module to edit.
    Package pNN holds m0 (a leaf: imports nothing) to m9, each importing the one
    before it; test file k imports module 9 of package k // 2."""
    app = root / "app"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    for p in range(PACKAGES):
        package = app / f"p{p:02d}"
        package.mkdir()
        (package / "__init__.py").write_text("")
        for m in range(MODULES_PER_PACKAGE):
            body = "def value():\n    return 1\n"
            if m:
                body = (
                    f"from app.p{p:02d}.m{m - 1} import value as _previous\n\n\n"
                    "def value():\n    return _previous() + 1\n"
                )
            (package / f"m{m}.py").write_text(body)
    tests = root / "tests"
    tests.mkdir()
    for k in range(TEST_FILES):
        text = TEST_HEADER.format(package=k // 2, module=MODULES_PER_PACKAGE - 1)
        for i in range(TESTS_PER_FILE):
            text += f"\ndef test_{i}():\n    _started()\n    assert value() == {MODULES_PER_PACKAGE}\n\n"
        (tests / f"test_t{k:03d}.py").write_text(text)
    (root / "pyproject.toml").write_text('[project]\nname = "bench-changed"\nversion = "0"\n')
    (root / ".gitignore").write_text(".dbtest/\n__pycache__/\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "generated"]):
        subprocess.run([*git, *args], cwd=root, check=True, capture_output=True)
    return app / "p00" / "m0.py"


def run_changed(ctx: Context) -> dict[str, float]:
    """The figures, medians of ``ctx.micro_repeat`` runs (after one warm-up)."""
    root = ctx.work / "changed"
    leaf = gen_changed_project(root)
    starts = ctx.work / "changed-starts.txt"
    env = {**ctx.run_env, "DBTEST_BENCH_STARTS": str(starts)}
    argv = ctx.dbtest("--changed", "-q", "-j", str(ctx.jobs))
    firsts: list[float] = []
    walls: list[float] = []
    for rep in range(ctx.micro_repeat + 1):
        with open(leaf, "a") as handle:
            handle.write(f"# edit {rep}\n")
        starts.unlink(missing_ok=True)
        began = time.time()
        proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
        ended = time.time()
        if proc.returncode != 0 or f"{AFFECTED_TESTS} passed" not in proc.stdout:
            raise BenchError(f"{' '.join(argv)} in {root}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        stamps = [float(line) for line in starts.read_text().split()]
        if len(stamps) != AFFECTED_TESTS:
            raise BenchError(f"--changed ran {len(stamps)} tests, not {AFFECTED_TESTS}")
        if rep:  # the first run warms the caches (bytecode, durations)
            firsts.append(min(stamps) - began)
            walls.append(ended - began)
    figures = {FIRST_TEST: median(firsts), WHOLE_RUN: median(walls)}
    log(f"(changed) {' '.join(argv[-4:])} after editing {leaf.relative_to(root)}, {len(firsts)} runs")
    for name, value in figures.items():
        log(f"    {name:<72} {ms(value):>10}")
    log(f"    first test: min {ms(min(firsts))}, max {ms(max(firsts))}")
    return figures
