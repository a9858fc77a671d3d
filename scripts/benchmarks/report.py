"""docs/benchmarks.md: everything but the hand-written analysis block, which is
kept from the file being replaced."""

from __future__ import annotations

import contextlib
import os
import platform
import time
from pathlib import Path

from .budgets import Budget, probe_text
from .context import Context, probe_json
from .environment import SOURCE_PATHS, git
from .formatting import mib, ms, secs, times
from .micro import Micro
from .overhead import MEMORY_TESTS, Overhead, memory_text
from .peers import CorpusResult, peers_table
from .profiles import Profiles, shares_text, symbol_growth
from .stats import median
from .suites import SuiteResult

ANALYSIS_BEGIN = "<!-- analysis:begin (hand-written; kept when scripts/bench rewrites this file) -->"
ANALYSIS_END = "<!-- analysis:end -->"

HOW_TO_RUN = """\
```sh
scripts/bench                      # full run (3 alternating repetitions), rewrites docs/benchmarks.md
scripts/bench --quick              # 1 repetition, fewer start-up samples: a few minutes
scripts/bench --only a,micro       # some sections (a–i, peers, micro, overhead, profile); prints only
scripts/bench --python .venv/bin/python   # use an environment that already has dbtest (no rebuild)
scripts/bench --dbtest /path/to/bin/dbtest  # the same, naming the dbtest executable
scripts/bench --help
```

By default the script creates `.bench/venv` in the clone (git-ignored), installs dbtest
from the clone with `pip install .` (which compiles the Rust coordinator) plus `pytest`,
`pytest-xdist`, `pytest-asyncio` and the peers `karva` and `rustest` (pinned), and
reuses that build on later runs until the sources under `dbtest/`, `rust/`, `Cargo.*`
or `pyproject.toml` change (`--rebuild` forces it). With `--python`/`--dbtest`, missing
pytest plugins (and the peers) are installed into that environment. Suites are
generated in a temporary directory (`--keep` leaves it).

The code: `scripts/bench` is a thin entry point into the package `scripts/benchmarks/`,
one module per concern (listed in its `__init__.py`): `generate` writes the suites,
`environment` prepares `.bench/venv`, `commands` and `stats` run commands and take
medians, `suites` (one table of the suites a–i), `micro`, `overhead` and `profiles`
measure, `budgets` judges and `report` writes this file. The probes
(`scripts/benchmarks/probes/`, run inside the benchmark's environment as
`scripts/bench _probe NAME`) reach dbtest through public entry points only:
`dbtest._core`, the command's `dbtest.cli.main`, and workers started and driven as the
coordinator does (`python -P -m dbtest.worker`, the protocol on fds 3 and 4).
`tests/python/test_bench_script.py` runs the generators, the statistics, the report and
every probe on tiny inputs (no timing is asserted).

Method: every suite gets one untimed warm-up run per tool (it writes `.pyc` files, and
its process-tree RSS — the sum over the runner and its workers, sampled every 20 ms —
is the "peak RSS" reported), then the tools alternate (`dbtest`, `pytest`,
`pytest -n N`, `dbtest`, …) and the median wall time of each is reported. Commands run
with the environment's console scripts, `PYTHONDONTWRITEBYTECODE` unset and no colour.
Each run's pass count is parsed (dbtest's last line, pytest's summary) and must equal the
suite's test count, with no failure; otherwise the benchmark stops. pytest-asyncio is
disabled (`-p no:asyncio` in the suite's `addopts`) except in the async suite, so
pytest does not pay for an import it does not need. The machine's parallel capacity is
probed in the same run (one ~0.3 s busy loop alone vs two at once; 2.0 means two free
cores) and reported next to the CPU-bound budgets.
"""

FEATURE_SUITES = """\
Suites (g) and (h) measure what pytest-style features cost dbtest. Each is judged
against dbtest on 5,000 plain trivial tests in the same layout (50 loose modules of
100 tests), timed as one more tool in the suite's own rounds (`dbtest -j N`, `pytest`,
`pytest -n N`, the baseline, `dbtest -j N`, …); the budgets compare the medians of
those rounds. Suite (a) is not the reference: its 200 files of 25 tests in nested
packages differ from these corpora in more than the feature.

- (g) 50 modules, each one test function under
  `@pytest.mark.parametrize("x", [0, 1, …, 99])`: 5,000 cases, which dbtest expands
  statically. Budgets: dbtest ≤ 1.5× the baseline, and `dbtest list` ≥ 50× faster than
  `pytest --collect-only -q` on the suite (both timed once per round, after one
  untimed run each).
- (h) 50 modules of 100 tests, each test using three fixtures of the root
  `conftest.py`: `number` (function scope), `resource` (function scope, a `yield`
  fixture) and `table` (module scope). Budget: dbtest ≤ 2× the baseline.

Each corpus has its own generator in `scripts/benchmarks/generate.py`
(`gen_parametrized`, `gen_fixtures`, and `gen_flat` for the baseline), sized by its
arguments and writing plain pytest-style files, so that a comparison with other
runners can write the same corpora.
"""

PEERS_METHOD = """\
dbtest beside its peers, karva and rustest (pinned versions, installed by
`scripts/bench` into its environment), and pytest and pytest-xdist, on four corpora
of `scripts/benchmarks/generate.py`: suite (a)'s 5,000 trivial tests in 200 files, suite
(b)'s 50 CPU-bound tests, suite (g)'s 5,000 parametrized cases and suite (h)'s 5,000
tests using conftest fixtures. Each cell is the median cold / warm wall time; a cold run
finds no cache of any tool (no `.dbtest/`, `.pytest_cache/`, `.karva_cache/`,
`.rustest_cache/` or `__pycache__/`, and an empty `XDG_CACHE_HOME`, where dbtest keeps its
user-level rewrite cache), the warm run follows it at once. The tools take turns, their
order turning by one each round. Under each peer, its time ÷ dbtest's (above 1×: dbtest
is ahead). Every run's pass count is read from the tool's own summary and must be the
corpus's test count; a peer that ran fewer (or none), failed some or crashed is "not
comparable" there, with its reason. rustest gets `--pytest-compat` on the corpora that
import pytest (without it, it does not run them).
"""

OVERHEAD_METHOD = """\
Coordinator overhead is measured by difference: `dbtest -j 1` runs 5,000 and 50,000
trivial tests (100 per file), through a wrapper that calls `dbtest.cli.main` and then
reads `getrusage(RUSAGE_SELF)` — the coordinator process alone (the Rust coordinator
runs inside it, workers are excluded). Δ CPU ÷ Δ tests is the coordinator's work per
test (dispatch, result decoding, reporting, the durations file, and the share of
parsing), every fixed cost (interpreter, click, worker start) cancelling out; the
same for peak RSS gives the memory kept per test. The wall-clock figure (Δ wall ÷ Δ tests
with one worker) is what a test costs end to end; the in-worker figure drives one worker
(`python -P -m dbtest.worker`, its protocol on fds 3 and 4) through the same modules with
every batch queued at once, from the first job sent to the last `batch_done`, so wall
minus in-worker is the per-test latency the coordinator adds that the pipelining does
not hide.
"""


def machine_lines(ctx: Context) -> list[str]:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--", *SOURCE_PATHS) else ""
    versions = probe_json(ctx, "versions")
    return [
        f"- CPU: {model}, {os.cpu_count()} logical CPUs; {platform.system()} {platform.release()}",
        f"- Python {versions['python']} ({ctx.env.python})",
        f"- dbtest {versions['dbtest']}, clone at commit `{commit}`{dirty}; {ctx.env.origin}",
        f"- pytest {versions['pytest']}, pytest-xdist {versions['xdist']}, pytest-asyncio {versions['pytest_asyncio']}",
        f"- peers: karva {versions.get('karva', '?')}, rustest {versions.get('rustest', '?')}",
        f"- {ctx.repeat} timed repetition(s) per tool, medians; N = {ctx.jobs} workers; {probe_text(ctx.probes)}",
        f"- recorded {time.strftime('%Y-%m-%d %H:%M %Z')}",
    ]


def results_table(suites: dict[str, SuiteResult]) -> list[str]:
    rows = [
        "| suite | dbtest | pytest | pytest -n N | pytest ÷ dbtest | xdist ÷ dbtest "
        "| peak RSS dbtest / pytest / xdist |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in suites.values():
        labels = " / ".join(f"`{s.label(k)}`" for k in ("dbtest", "pytest", "xdist"))
        rss = " / ".join(mib(s.rss.get(k)) for k in ("dbtest", "pytest", "xdist"))
        rows.append(
            f"| ({s.key}) {s.title}<br>{labels} | {secs(s.wall('dbtest'))} | {secs(s.wall('pytest'))} | "
            f"{secs(s.wall('xdist'))} | {times(s.ratio('pytest'))} | {times(s.ratio('xdist'))} | {rss} |"
        )
    return rows


def budget_table(items: list[Budget]) -> list[str]:
    rows = ["| budget | measured | limit | verdict | notes |", "|---|---|---|---|---|"]
    for b in items:
        rows.append(f"| {b.name} | {b.measured} | {b.limit} | **{b.verdict}** | {b.note} |")
    return rows


def micro_table(micro: Micro, overhead: Overhead | None) -> list[str]:
    rows = ["| figure | median |", "|---|---|"]
    rows += [f"| {name} | {ms(value)} |" for name, value in micro.figures.items()]
    if overhead is not None:
        for n in overhead.sizes:
            rows.append(
                f"| `dbtest -j 1`, {n:,} trivial tests: wall / coordinator CPU / coordinator peak RSS | "
                f"{secs(median(overhead.wall[n]))} / {secs(median(overhead.cpu[n]))} / "
                f"{mib(int(median(overhead.rss_kib[n])))} |"
            )
        rows.append(f"| coordinator CPU per test (Δ CPU ÷ Δ tests) | {overhead.cpu_per_test * 1e6:.1f} µs |")
        rows.append(f"| wall per test with one worker (Δ wall ÷ Δ tests) | {overhead.wall_per_test * 1e6:.1f} µs |")
        in_worker = "in-worker time per test (one worker over its protocol, Δ ÷ Δ)"
        rows.append(f"| {in_worker} | {overhead.worker_per_test * 1e6:.1f} µs |")
        rows.append(f"| coordinator RSS growth per test | {overhead.rss_per_test:.0f} B |")
        if overhead.memory_rss_kib:
            figure = f"coordinator peak RSS, {MEMORY_TESTS:,} trivial tests (2,000 files)"
            rows.append(f"| {figure} | {memory_text(overhead)} |")
    return rows


def worker_profile_lines(profiles: Profiles, overhead: Overhead | None) -> list[str]:
    unprofiled = (
        f" Unprofiled, a test costs {overhead.worker_per_test * 1e6:.1f} µs in the worker (Δ between the 5,000- and "
        "50,000-test trees, module imports included)."
        if overhead is not None
        else ""
    )
    rows = [
        "### Worker: the per-test path",
        "",
        "One worker process (`python -P -m dbtest.worker`, started and fed as the coordinator does: the protocol "
        "on fds 3 and 4, `run_unlisted` as in a plain run) runs the 5,000-test tree (50 modules of 100 trivial "
        "tests), every batch queued at once." + unprofiled + " What the same run, unprofiled, tells through the "
        "protocol (the durations of `imported` and `result` messages), and the cost of a test call and of a "
        "result frame alone:",
        "",
        "| µs per test or call | step |",
        "|---|---|",
        *(f"| {value * 1e6:.2f} | {name} |" for name, value in profiles.components.items()),
        "",
        "The worker process under cProfile, from start to exit, by own time (the profiler inflates cheap calls: "
        "read shares and call counts):",
        "",
        "| share of own time | calls | calls per test | function |",
        "|---|---|---|---|",
    ]
    n = max(1, profiles.worker_tests)
    for row in profiles.worker[:20]:
        share = 100 * row["tottime"] / max(profiles.worker_profiled_total, 1e-9)
        calls = str(row["ncalls"]).split("/")[0]
        rows.append(f"| {share:.1f}% | {row['ncalls']} | {int(calls) / n:.2f} | `{row['function']}` |")
    return rows


def coordinator_profile_lines(profiles: Profiles) -> list[str]:
    rows = ["### Coordinator", "", profiles.coordinator_note, ""]
    large = profiles.perf_large
    if large is None:
        return rows
    rows += [
        f"50,000 tests, by object: {shares_text(large.objects, large.samples)}.",
        "",
        f"By thread: {shares_text(large.threads, large.samples)}.",
        "",
        "Symbols by growth (Δ samples between the two runs ÷ 45,000 tests; a few samples each, so ±0.1 µs):",
        "",
        "| µs per test | share at 50,000 | object | symbol |",
        "|---|---|---|---|",
    ]
    for growth, share, dso, symbol in symbol_growth(profiles)[:25]:
        rows.append(f"| {growth:.2f} | {share:.1f}% | {dso} | `{symbol[:110]}` |")
    return rows


def profile_lines(profiles: Profiles | None, overhead: Overhead | None) -> list[str]:
    if profiles is None:
        return ["Not profiled in this run (`--only` without `profile`)."]
    return [*worker_profile_lines(profiles, overhead), "", *coordinator_profile_lines(profiles)]


def preserved_analysis(path: Path) -> str:
    text = path.read_text() if path.exists() else ""
    start, end = text.find(ANALYSIS_BEGIN), text.find(ANALYSIS_END)
    if start >= 0 and end > start:
        return text[start : end + len(ANALYSIS_END)]
    return f"{ANALYSIS_BEGIN}\n_No analysis written yet._\n{ANALYSIS_END}"


def render(
    machine: list[str],
    path: Path,
    suites: dict[str, SuiteResult],
    micro: Micro | None,
    overhead: Overhead | None,
    profiles: Profiles | None,
    items: list[Budget],
    elapsed: float,
    peers: dict[str, CorpusResult] | None = None,
) -> str:
    parts = [
        "# Benchmarks",
        "",
        "<!-- Written by scripts/bench: everything but the analysis block is regenerated. -->",
        "",
        "dbtest against pytest and pytest-xdist on synthetic suites generated by "
        "`scripts/bench`, all timed in the same run (spec, section 8).",
        "",
        "## How to run",
        "",
        HOW_TO_RUN,
        "## The pytest-feature suites (g, h)",
        "",
        FEATURE_SUITES,
        "## Machine",
        "",
        *machine,
        f"- the whole benchmark took {elapsed / 60:.1f} min",
        "",
        "## Results (median wall time)",
        "",
        *results_table(suites),
        "",
        "## Peers: cold and warm",
        "",
        PEERS_METHOD,
        *(peers_table(peers) if peers else ["Not measured in this run (`--only` without `peers`)."]),
        "",
        "## Budgets",
        "",
        *budget_table(items),
        "",
        "## Start-up, collection, overhead",
        "",
        *(micro_table(micro, overhead) if micro is not None else ["Not measured in this run."]),
        "",
        OVERHEAD_METHOD,
        "## Where time goes",
        "",
        *profile_lines(profiles, overhead),
        "",
        "### Analysis",
        "",
        preserved_analysis(path),
        "",
    ]
    return "\n".join(parts)
