"""The spec's performance budgets (section 8), each a PASS or FAIL line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .changed import FIRST_TEST, FIRST_TEST_LIMIT
from .formatting import log, mib, ms, secs, times
from .generate import SLEEP_FLOOR
from .micro import Micro
from .overhead import MEMORY_TESTS, Overhead, memory_text
from .peers import PEERS, CorpusResult
from .stats import median
from .suites import BASELINE_TESTS, DBTEST_LIST, PYTEST_COLLECT, SuiteResult

RSS_PER_TEST_LIMIT = 1024
# The coordinator's peak RSS on MEMORY_TESTS trivial tests, in KiB (60 MiB).
MEMORY_LIMIT_KIB = 60 * 1024
# A cold run of the trivial corpus within this many times the warm one.
COLD_WARM_LIMIT = 1.5
# (c) may take this much more than the sleep each worker must do.
SLEEP_FLOOR_LIMIT = 1.2

BUDGETS_HELP = """\
budgets (ratios from the same run; PASS/FAIL printed for each):
  (a) dbtest >= 10x faster than pytest -n N, >= 5x faster than pytest; < 1 s
  (b) wall <= (test time / N) / 0.9 + start-up (1-test run)
  (c) -j 8 wall <= 1.2 x its sleep floor (80 x 50 ms / 8 workers = 0.5 s)
  (d) >= 10x faster than pytest -n N -k NAME
  (e) second run <= 1.1 x max(longest test, test time / N)
  (i) first run (no durations, --no-cache) <= 1.25 x max(longest test, test
      time / N)
  (f) >= 2x faster than plain pytest (with pytest-asyncio)
  (g) dbtest <= 1.5 x dbtest on 5,000 plain tests of the same layout (50 files
      x 100, timed in the same rounds); dbtest list >= 50x faster than
      pytest --collect-only -q on the suite
  (h) dbtest <= 2 x dbtest on the same 5,000 plain tests
  dbtest --version and dbtest list on a small project <= 150 ms; coordinator CPU
  per test <= 50 us; coordinator RSS growth <= 1 KiB per test (5k vs 50k tests);
  discovery + collection <= 3 ms per 100 files; selection <= 10 ms per 1,000
  tests; dbtest list <= 0.1 x pytest --collect-only -q on the 200-file suite;
  coordinator peak RSS on 100,000 trivial tests (2,000 files) <= 60 MiB.
  peers: dbtest ahead of karva and rustest, cold and warm, on every corpus
  both can run (trivial, CPU-bound, parametrized, fixtures); a cold run of the
  trivial corpus <= 1.5 x the warm one.
  (changed) dbtest --changed after editing one leaf module of a 500-module,
  2,000-test project starts its first test within 200 ms.
(b), (e) and (i) divide the test time measured by the workers in one more dbtest run
(--json), beside its wall time; their comparison with a separate serial run, at
the parallel capacity probed in the same run, is shown for information.
"""


@dataclass
class Budget:
    name: str
    measured: str
    limit: str
    ok: bool | None  # None: shown for information, not a verdict
    note: str = ""

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else "PASS" if self.ok else "FAIL"


def faster_by(name: str, ratio: float, floor: float) -> Budget:
    """dbtest at least ``floor`` times faster."""
    return Budget(name, times(ratio), f"≥ {floor:g}×", ratio >= floor)


def within_ms(name: str, seconds: float, limit: float) -> Budget:
    """A figure of at most ``limit`` seconds, shown in milliseconds."""
    return Budget(name, ms(seconds), f"≤ {limit * 1000:g} ms", seconds <= limit)


def probe_text(probes: Sequence[float]) -> str:
    if not probes:
        return "no probe"
    return f"parallel probe {median(probes):.2f}× (range {min(probes):.2f}–{max(probes):.2f})"


def budgets(
    jobs: int,
    suites: dict[str, SuiteResult],
    micro: Micro | None,
    overhead: Overhead | None,
    peers: dict[str, CorpusResult] | None = None,
) -> list[Budget]:
    """The budgets of the sections that ran; ``jobs`` is N (dbtest -j, pytest -n)."""
    out: list[Budget] = []
    if "a" in suites:
        a = suites["a"]
        out.append(faster_by(f"(a) vs pytest -n {jobs}", a.ratio("xdist"), 10))
        out.append(faster_by("(a) vs pytest", a.ratio("pytest"), 5))
        out.append(Budget("(a) 5,000 trivial tests", secs(a.wall("dbtest")), "< 1 s", a.wall("dbtest") < 1.0))
    if "b" in suites and micro is not None:
        limit = limit_b(micro.figures["dbtest run (1 test)"])
        out.append(budget_in_run(jobs, suites["b"], "(b) CPU-bound, ≥ 90% of linear", limit))
        out.append(budget_vs_serial(jobs, suites["b"], "(b) CPU-bound, vs a separate serial run", limit))
    if "c" in suites:
        out.append(budget_sleep(suites["c"]))
    if "d" in suites:
        d = suites["d"]
        out.append(faster_by(f"(d) -k vs pytest -n {jobs} -k", d.ratio("xdist"), 10))
        imported = int(median(d.extra["modules imported by dbtest"]))
        note = d.notes["modules imported by dbtest"]
        out.append(Budget("(d) modules dbtest -k imports", str(imported), "1", imported == 1, note))
    if "e" in suites:
        out.append(budget_in_run(jobs, suites["e"], "(e) skewed, second run", limit_e))
        out.append(budget_vs_serial(jobs, suites["e"], "(e) skewed, vs a separate serial run", limit_e))
    if "f" in suites:
        out.append(faster_by("(f) async vs pytest", suites["f"].ratio("pytest"), 2))
    if "g" in suites:
        out.append(within_baseline("(g) parametrized cases vs plain tests", suites["g"], 1.5))
        out.append(budget_listing("(g) dbtest list vs pytest --collect-only -q", suites["g"], 50))
    if "h" in suites:
        out.append(within_baseline("(h) conftest fixtures vs plain tests", suites["h"], 2))
    if "i" in suites:
        out.append(budget_in_run(jobs, suites["i"], "(i) skewed, first run", limit_i))
        out.append(budget_vs_serial(jobs, suites["i"], "(i) skewed, first run, vs a separate serial run", limit_i))
    if micro is not None and "dbtest --version" in micro.figures:
        out.extend(micro_budgets(micro))
    if micro is not None and FIRST_TEST in micro.figures:
        out.append(within_ms("(changed) first test after a leaf edit", micro.figures[FIRST_TEST], FIRST_TEST_LIMIT))
    if overhead is not None:
        out.extend(overhead_budgets(overhead))
    if peers:
        out.extend(peer_budgets(peers))
    return out


def peer_budgets(peers: dict[str, CorpusResult]) -> list[Budget]:
    """dbtest ahead of each peer, cold and warm, where the peer could run the
    corpus; where it could not, one line says why (for information)."""
    out: list[Budget] = []
    for corpus in peers.values():
        for peer in PEERS:
            name = f"(peers) {corpus.key}: dbtest vs {peer}"
            if not corpus.comparable(peer):
                reason = corpus.not_comparable.get(peer, "not run")
                out.append(Budget(name, "—", "ahead", None, f"not comparable: {reason}"))
                continue
            cold, warm = corpus.ratio(peer, "cold"), corpus.ratio(peer, "warm")
            note = (
                f"`{corpus.labels[peer]}` cold {secs(corpus.wall(peer, 'cold'))}, warm "
                f"{secs(corpus.wall(peer, 'warm'))}; dbtest cold {secs(corpus.wall('dbtest', 'cold'))}, "
                f"warm {secs(corpus.wall('dbtest', 'warm'))}"
            )
            out.append(Budget(name, f"{times(cold)} cold, {times(warm)} warm", "≥ 1× both", min(cold, warm) >= 1, note))
    if "trivial" in peers:
        trivial = peers["trivial"]
        share = trivial.wall("dbtest", "cold") / trivial.wall("dbtest", "warm")
        note = f"{secs(trivial.wall('dbtest', 'cold'))} cold, {secs(trivial.wall('dbtest', 'warm'))} warm"
        limit = f"≤ {COLD_WARM_LIMIT:g}×"
        name = "(peers) trivial: dbtest cold vs warm"
        out.append(Budget(name, f"{share:.2f}×", limit, share <= COLD_WARM_LIMIT, note))
    return out


def budget_sleep(c: SuiteResult) -> Budget:
    """(c): -j 8 within 1.2 times its sleep floor, the wall time no runner can
    beat (each worker's share of the sleeping). Unlike pytest -n 8's own time,
    which swings with the machine, the floor is fixed; pytest -n 8 is shown in
    the note for information."""
    wall = c.wall("dbtest")
    share = wall / SLEEP_FLOOR
    note = (
        f"each worker sleeps {secs(SLEEP_FLOOR)}; {SLEEP_FLOOR_LIMIT:g} × that leaves "
        f"{ms((SLEEP_FLOOR_LIMIT - 1) * SLEEP_FLOOR)} for start-up and teardown, dbtest took "
        f"{ms(wall - SLEEP_FLOOR)}; pytest -n 8 took {secs(c.wall('xdist'))} ({c.ratio('xdist'):.2f}× dbtest)"
    )
    return Budget(
        "(c) -j 8 vs its sleep floor",
        f"{share:.2f}×",
        f"≤ {SLEEP_FLOOR_LIMIT:g}× ({secs(SLEEP_FLOOR_LIMIT * SLEEP_FLOOR)})",
        share <= SLEEP_FLOOR_LIMIT,
        note,
    )


def within_baseline(name: str, result: SuiteResult, limit: float) -> Budget:
    """dbtest on the suite within ``limit`` times dbtest on the plain tests of the
    same layout, both medians of the same rounds."""
    share = result.wall("dbtest") / result.wall("baseline")
    note = (
        f"`{result.label('dbtest')}`: {secs(result.wall('dbtest'))} on the suite, "
        f"{secs(result.wall('baseline'))} on {BASELINE_TESTS:,} plain trivial tests in the same layout "
        "(50 files × 100), alternated in the same rounds"
    )
    return Budget(name, f"{share:.2f}×", f"≤ {limit:g}×", share <= limit, note)


def budget_listing(name: str, result: SuiteResult, floor: float) -> Budget:
    dbtest, pytest = median(result.extra[DBTEST_LIST]), median(result.extra[PYTEST_COLLECT])
    budget = faster_by(name, pytest / dbtest, floor)
    budget.note = f"{ms(dbtest)} against {ms(pytest)}"
    return budget


# A suite's wall-time limit from its test time, its longest test and the CPUs
# it may count on.
Limit = Callable[[float, float, float], float]


def limit_b(startup: float) -> Limit:
    """(b): ≥ 90% of linear speed-up, plus the start-up of a one-test run."""
    return lambda total, _longest, cpus: total / cpus / 0.9 + startup


def limit_e(total: float, longest: float, cpus: float) -> float:
    """(e): within 10% of the longest test or of the test time spread evenly."""
    return 1.1 * max(longest, total / cpus)


def limit_i(total: float, longest: float, cpus: float) -> float:
    """(i): a first run, knowing no durations, within 25% of the same ideal as (e)."""
    return 1.25 * max(longest, total / cpus)


def budget_in_run(jobs: int, result: SuiteResult, name: str, limit: Limit) -> Budget:
    """A budget against the test time of the same run: the tests' durations as the
    workers measured them while N ran at once, in one more `--json` run per
    repetition. The median of each run's own wall / limit ratio decides. This
    shows that the workers were kept busy; whether the machine delivered N CPUs'
    worth of work is the parallel probe's to say (`budget_vs_serial`)."""
    walls = result.extra["in-run wall"]
    test_times, longest = result.extra["in-run test time"], result.extra["in-run longest"]
    limits = [limit(t, lo, jobs) for t, lo in zip(test_times, longest, strict=True)]
    ratio = median([w / li for w, li in zip(walls, limits, strict=True)])
    note = (
        f"wall and test time of the --json runs; test time {secs(median(test_times))}, longest "
        f"{secs(median(longest))}; wall / limit {ratio:.3f} (median of the runs' ratios)"
    )
    return Budget(name, secs(median(walls)), f"≤ {secs(median(limits))}", ratio <= 1, note)


def budget_vs_serial(jobs: int, result: SuiteResult, name: str, limit: Limit) -> Budget:
    """The same limit from a separate serial run, for information: on a shared
    machine whose CPUs deliver less than N times one CPU's work (see the parallel
    probe), a serial reference understates what the tests cost N at a time."""
    total, longest = median(result.extra["serial"]), median(result.extra["longest"])
    capacity = min(float(jobs), median(result.extra["probe"]))
    wall = result.wall("dbtest")
    note = (
        f"median of the timed runs; serial {secs(total)}, longest {secs(longest)}; "
        f"{probe_text(result.extra['probe'])}: at the measured capacity the limit is "
        f"{secs(limit(total, longest, capacity))}; speed-up {total / wall:.2f}×"
    )
    return Budget(name, secs(wall), secs(limit(total, longest, jobs)), None, note)


def micro_budgets(micro: Micro) -> list[Budget]:
    f = micro.figures
    per100 = max(f["collect 200 files / 5,000 tests"] / 2, f["collect 100 files / 2,500 tests"])
    list_share = f["dbtest list (200 files)"] / f["pytest --collect-only -q (200 files)"]
    return [
        within_ms("dbtest --version", f["dbtest --version"], 0.150),
        within_ms("dbtest list, small project", f["dbtest list (1 test)"], 0.150),
        within_ms("discovery + collection per 100 files", per100, 0.003),
        within_ms("selection per 1,000 tests", f["select 1,000 ids (-k and -m)"], 0.010),
        Budget("dbtest list vs pytest --collect-only -q", f"{list_share:.3f}×", "≤ 0.1×", list_share <= 0.1),
    ]


def overhead_budgets(o: Overhead) -> list[Budget]:
    small, large = o.sizes
    return [
        Budget(
            "coordinator overhead per test",
            f"{o.cpu_per_test * 1e6:.1f} µs CPU",
            "≤ 50 µs",
            o.cpu_per_test <= 50e-6,
            f"wall {o.wall_per_test * 1e6:.1f} µs/test with one worker, "
            f"of which {o.worker_per_test * 1e6:.1f} µs in the worker",
        ),
        Budget(
            "coordinator memory flat in tests",
            f"{o.rss_per_test:.0f} B/test",
            f"≤ {RSS_PER_TEST_LIMIT} B/test",
            o.rss_per_test <= RSS_PER_TEST_LIMIT,
            f"peak RSS {mib_of(o, small)} at {small:,} tests, {mib_of(o, large)} at {large:,}",
        ),
        *memory_budget(o),
    ]


def memory_budget(o: Overhead) -> list[Budget]:
    if not o.memory_rss_kib:
        return []
    peak = median(o.memory_rss_kib)
    return [
        Budget(
            f"coordinator peak RSS, {MEMORY_TESTS:,} tests",
            mib(int(peak)),
            f"≤ {MEMORY_LIMIT_KIB // 1024} MiB",
            peak <= MEMORY_LIMIT_KIB,
            f"`dbtest -j 1` after a first run (durations recorded); {memory_text(o)}",
        )
    ]


def mib_of(o: Overhead, tests: int) -> str:
    """The coordinator's median peak RSS at ``tests`` tests."""
    return mib(int(median(o.rss_kib[tests])))


def print_budgets(items: Sequence[Budget]) -> None:
    log("\n== budgets")
    for b in items:
        log(f"{b.verdict:<4}  {b.name}: {b.measured} (limit {b.limit}){'; ' + b.note if b.note else ''}")
