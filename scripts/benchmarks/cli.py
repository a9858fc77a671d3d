"""Benchmarks dbtest against pytest and pytest-xdist on synthetic suites.

The script prepares its own environment (a virtualenv under .bench/ in the
clone, with dbtest built from the clone plus pytest, pytest-xdist and
pytest-asyncio), generates its suites in a temporary directory, and times
`dbtest -j N`, `pytest` and `pytest -n N` in the same run, alternating the
tools repetition by repetition and reporting medians. Every run's pass count
is checked against the number of tests the suite holds: a run that executed
the wrong number of tests stops the benchmark.

Suites:
  a  5,000 trivial tests in 200 files of nested packages
  b  50 CPU-bound tests of ~60 ms
  c  80 tests that sleep 50 ms, with -j 8 / -n 8
  d  60 modules whose import costs ~40 ms; one test selected with -k
  e  200 tests of ~5 ms and 4 of ~1.5 s in one file (dbtest's second run)
  f  100 async tests (pytest with pytest-asyncio, asyncio_mode = auto)
  g  5,000 parametrized cases: 50 functions x 100 literal cases in 50 files;
     also dbtest list vs pytest --collect-only -q
  h  5,000 tests using 2 function- and 1 module-scoped fixtures of a conftest.py
  i  the suite of e, every dbtest run a first run (--no-cache: no durations)
  peers  dbtest -j N beside karva test -n N, rustest -n N, pytest and pytest -n N
     on four corpora (5,000 trivial tests; 50 CPU-bound; 5,000 parametrized
     cases; 5,000 tests using conftest fixtures), each tool cold (no cache of
     any tool, no __pycache__, an empty XDG_CACHE_HOME) then warm, the tools
     alternating round by round; a peer that cannot run a corpus is reported
     "not comparable" with its reason
  g and h also time dbtest on 5,000 plain trivial tests of the same layout in
  the same rounds: what the feature costs dbtest.
  changed  dbtest --changed on a git project of 500 modules and 2,000 tests after
     one leaf module is edited: when the first affected test starts

Micro-figures: interpreter and `dbtest --version` start-up, `dbtest list` on
a small project, worker start-up (spawn to hello, spawn to first result),
static collection and selection in-process (dbtest._core), `dbtest list` vs
`pytest --collect-only -q`, coordinator CPU and wall overhead per test and
coordinator peak RSS on 5,000 vs 50,000 tests, and on 100,000 tests. Profiles: cProfile of the
worker's per-test path, perf (when available) of the coordinator.

Results go to stdout and, unless --no-write, to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .budgets import BUDGETS_HELP, budgets, print_budgets
from .changed import run_changed
from .commands import BenchError
from .context import Context, calibrate_spin
from .environment import DEFAULT_OUTPUT, DEFAULT_VENV, prepare_env, run_environment
from .formatting import log
from .generate import gen_trivial_packages
from .micro import Micro, run_micro
from .overhead import Overhead, run_overhead
from .peers import CorpusResult, run_peers
from .profiles import Profiles, run_profiles
from .report import machine_lines, render
from .suites import SUITE_KEYS, SUITES, SuiteResult, run_suite

ALL_SECTIONS = (*SUITE_KEYS, "peers", "micro", "overhead", "profile", "changed")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=BUDGETS_HELP,
    )
    parser.add_argument("--quick", action="store_true", help="one timed repetition and fewer start-up samples")
    parser.add_argument(
        "--repeat", type=int, metavar="N", help="timed repetitions per tool (default 3; 1 with --quick)"
    )
    parser.add_argument("-j", "--jobs", type=int, default=2, metavar="N", help="workers for dbtest -j / pytest -n (2)")
    parser.add_argument("--python", metavar="PY", help="use this interpreter's environment (must have dbtest)")
    parser.add_argument("--dbtest", metavar="PATH", help="use the environment of this dbtest executable")
    parser.add_argument("--venv", default=str(DEFAULT_VENV), metavar="DIR", help="venv to create/reuse (.bench/venv)")
    parser.add_argument("--rebuild", action="store_true", help="reinstall dbtest into the venv even if unchanged")
    parser.add_argument("--only", metavar="LIST", help=f"comma-separated sections among {','.join(ALL_SECTIONS)}")
    parser.add_argument("--output", metavar="FILE", help="where to write the report (default docs/benchmarks.md)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write the report")
    parser.add_argument("--keep", action="store_true", help="keep the generated suites and print where they are")
    args = parser.parse_args(argv)
    sections = set(args.only.split(",")) if args.only else set(ALL_SECTIONS)
    unknown = sections - set(ALL_SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose among {','.join(ALL_SECTIONS)}")
    args.sections = sections
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1 or args.jobs < 1:
        parser.error("--repeat and --jobs must be at least 1")
    return args


@dataclass
class Sections:
    suites: dict[str, SuiteResult]
    peers: dict[str, CorpusResult]
    micro: Micro | None
    overhead: Overhead | None
    profiles: Profiles | None


def run_sections(ctx: Context, sections: set[str]) -> Sections:
    suites = {suite.key: run_suite(ctx, suite) for suite in SUITES if suite.key in sections}
    peers = run_peers(ctx) if "peers" in sections else {}
    micro = overhead = profiles = None
    # Budget (b) needs the start-up of a one-test run, from the micro-figures.
    if "micro" in sections or "b" in sections:
        tree = ctx.work / "a_trivial"
        if not tree.exists():
            gen_trivial_packages(tree)
        micro = run_micro(ctx, tree)
    if "changed" in sections:
        micro = micro or Micro()
        micro.figures.update(run_changed(ctx))
    if "overhead" in sections or "profile" in sections:
        overhead = run_overhead(ctx)
    if "profile" in sections:
        profiles = run_profiles(ctx)
    return Sections(suites, peers, micro, overhead, profiles)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    env = prepare_env(args.dbtest, args.python, args.venv, args.rebuild)
    work = Path(tempfile.mkdtemp(prefix="dbtest-bench-"))
    ctx = Context(
        env=env,
        work=work,
        repeat=args.repeat,
        micro_repeat=5 if args.quick else 15,
        jobs=args.jobs,
        run_env=run_environment(),
    )
    try:
        calibrate_spin(ctx)
        log(f"== suites in {work}; {ctx.repeat} repetition(s); busy loop {ctx.spin_per_second / 1e6:.1f} M/s")
        ran = run_sections(ctx, args.sections)
        machine = machine_lines(ctx)
    except BenchError as exc:
        log(f"bench: error: {exc}")
        return 1
    finally:
        if args.keep:
            log(f"== generated suites kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    items = budgets(ctx.jobs, ran.suites, ran.micro, ran.overhead, ran.peers)
    print_budgets(items)
    elapsed = time.perf_counter() - started
    log(f"\n== finished in {elapsed / 60:.1f} min")
    write_report = not args.no_write and (args.output is not None or args.only is None)
    if write_report:
        path = Path(args.output) if args.output else DEFAULT_OUTPUT
        path.parent.mkdir(parents=True, exist_ok=True)
        text = render(machine, path, ran.suites, ran.micro, ran.overhead, ran.profiles, items, elapsed, ran.peers)
        path.write_text(text)
        log(f"== wrote {path}")
    return 0
