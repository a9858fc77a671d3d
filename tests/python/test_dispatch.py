"""Which worker runs which test: the plan is the same for the same inputs, a
first run (no durations) spreads its tests over every worker, and `--shuffle`
names its order by a seed. Assignments are read from `-v`'s worker column;
nothing here depends on timing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import FIXTURES, run_dbtest

LINE = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED)\s+(\S+) \([0-9.]+s, w(\d+)\)$")


def assignment(stdout: str) -> dict[str, list[str]]:
    """Worker number -> the ids it ran, in the order reported."""
    workers: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        match = LINE.match(line.strip())
        if match:
            workers.setdefault(match.group(3), []).append(match.group(2))
    return workers


def worker_of(stdout: str) -> dict[str, str]:
    return {test: worker for worker, tests in assignment(stdout).items() for test in tests}


PAIR_CLASS = "class TestPair:\n    def test_a(self):\n        pass\n\n    def test_b(self):\n        pass\n"


@pytest.mark.parametrize(
    "files",
    [
        {"test_one.py": "def test_a():\n    pass\n\n\ndef test_b():\n    pass\n"},
        {"test_one.py": "def test_a():\n    pass\n", "test_two.py": "def test_b():\n    pass\n"},
        {"test_one.py": PAIR_CLASS},
    ],
    ids=["one module", "two modules", "one class without class set-up"],
)
def test_a_first_run_gives_each_of_two_workers_one_of_two_tests(project, files):
    root = project(files)
    run = run_dbtest("-j", "2", "-v", "--no-cache", cwd=root)
    assert run.code == 0, run
    workers = assignment(run.stdout)
    assert sorted(len(tests) for tests in workers.values()) == [1, 1], run


def test_a_first_run_gives_each_of_three_workers_one_of_three_modules(project):
    root = project({f"test_m{i}.py": "def test_x():\n    pass\n" for i in range(3)})
    run = run_dbtest("-j", "3", "-v", "--no-cache", cwd=root)
    assert run.code == 0, run
    assert sorted(len(tests) for tests in assignment(run.stdout).values()) == [1, 1, 1], run


def a_suite(project) -> tuple[Path, dict[str, float]]:
    """Six modules of tests with recorded durations (small ones: no worker is
    ever far enough behind for another to take its work)."""
    files: dict[str, str] = {}
    durations: dict[str, float] = {}
    for m in range(6):
        names = [f"test_{m}_{i}" for i in range(4 + m)]
        files[f"test_mod{m}.py"] = "".join(f"def {name}():\n    pass\n\n\n" for name in names)
        for i, name in enumerate(names):
            durations[f"test_mod{m}.py::{name}"] = 0.0005 * (1 + (m * 7 + i * 3) % 5)
    return project(files), durations


def run_with_durations(root: Path, durations: dict[str, float]) -> str:
    cache = root / ".dbtest"
    cache.mkdir(exist_ok=True)
    (cache / "durations.json").write_text(json.dumps({"version": 1, "durations": durations}))
    run = run_dbtest("-j", "3", "-v", cwd=root)
    assert run.code == 0, run
    return run.stdout


def test_the_same_inputs_give_each_worker_the_same_tests_in_the_same_order(project):
    root, durations = a_suite(project)
    first = assignment(run_with_durations(root, durations))
    second = assignment(run_with_durations(root, durations))
    assert first == second
    assert len(first) == 3, first


def test_slightly_changed_durations_keep_the_plan(project):
    root, durations = a_suite(project)
    before = worker_of(run_with_durations(root, durations))
    wobbled = {test: seconds * (1.05 if i % 2 else 0.96) for i, (test, seconds) in enumerate(durations.items())}
    assert worker_of(run_with_durations(root, wobbled)) == before


def test_each_worker_runs_a_stretch_of_the_suite_in_file_order(project):
    root, durations = a_suite(project)
    flat = {test: 0.001 for test in durations}  # equal: nothing is reordered by duration
    order = list(durations)
    for tests in assignment(run_with_durations(root, flat)).values():
        positions = [order.index(test) for test in tests]
        assert positions == list(range(positions[0], positions[0] + len(positions))), tests


SHUFFLED = {f"test_s{m}.py": "".join(f"def test_{m}_{i}():\n    pass\n\n\n" for i in range(8)) for m in range(4)}


def test_shuffle_prints_its_seed_and_the_seed_repeats_the_order(project):
    root = project(SHUFFLED)
    run = run_dbtest("-j", "1", "-v", "--shuffle", "--no-cache", cwd=root)
    assert run.code == 0, run
    seed = re.search(r"shuffled with seed (\d+) \(`--seed \1` repeats this order\)", run.stdout)
    assert seed, run
    order = assignment(run.stdout)["1"]
    again = run_dbtest("-j", "1", "-v", "--seed", seed.group(1), "--no-cache", cwd=root)
    assert assignment(again.stdout)["1"] == order
    assert len(order) == 32
    file_order = [f"test_s{m}.py::test_{m}_{i}" for m in range(4) for i in range(8)]
    assert order != file_order
    other = run_dbtest("-j", "1", "-v", "--seed", str(int(seed.group(1)) + 1), "--no-cache", cwd=root)
    assert assignment(other.stdout)["1"] != order


def test_the_seed_goes_to_stderr_when_stdout_carries_a_report(project):
    root = project(SHUFFLED)
    run = run_dbtest("--seed", "3", "--format", "json", "--no-cache", cwd=root)
    assert run.code == 0, run
    json.loads(run.stdout)
    assert "shuffled with seed 3" in run.stderr


SKEWED = (
    "import time\n\n\n"
    + "".join(f"def test_short_{i}():\n    time.sleep(0.01)\n\n\n" for i in range(20))
    + "".join(f"def test_long_{i}():\n    time.sleep(0.4)\n\n\n" for i in range(4))
)


def test_a_first_run_spreads_long_tests_it_knew_nothing_about(project):
    """Four long tests last in a file, on two workers, without durations: the
    worker that runs dry takes over half of what the other has left, so each
    runs two of them (not three or four behind one another)."""
    root = project({"test_skewed.py": SKEWED})
    run = run_dbtest("-j", "2", "-v", "--no-cache", cwd=root)
    assert run.code == 0, run
    longs = {worker: [t for t in tests if "test_long_" in t] for worker, tests in assignment(run.stdout).items()}
    assert sorted(len(tests) for tests in longs.values()) == [2, 2], run


def test_a_module_whose_tests_are_made_at_import_is_spread_over_both_workers():
    """tests/fixtures/bigmodule: 90 tests the static pass cannot see, in one
    module. The worker that imports it first finds them; the other takes over
    part of them (importing the module itself). A class stays on one worker."""
    root = FIXTURES / "bigmodule"
    run = run_dbtest("-j", "2", "-v", "--no-cache", str(root), cwd=root)
    assert run.code == 0, run
    assert "90 passed" in run.stdout, run
    workers = assignment(run.stdout)
    assert sorted(workers) == ["1", "2"], run
    for cls in ("TestMadeA", "TestMadeB"):
        ran_on = {w for w, tests in workers.items() for t in tests if f"::{cls}::" in t}
        assert len(ran_on) == 1, (cls, run)
