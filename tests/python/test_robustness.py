"""End-to-end: hung, crashing and exiting tests, interruption, retries, reruns,
recycling and leaked processes — each costs at most its own result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from .conftest import FIXTURES, dbtest_executable, run_dbtest


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _wait_for_lines(path: Path, count: int, timeout: float = 30) -> list[int]:
    """The numbers on the first `count` lines (pids), once they are there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().splitlines()
            if len(lines) >= count:
                return [int(x) for line in lines[:count] for x in line.split()]
        time.sleep(0.05)
    raise AssertionError(f"{path} did not get {count} lines")


def _wait_dead(pids: set[int], timeout: float = 5) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = {pid for pid in pids if _alive(pid)}
        if not alive:
            return set()
        time.sleep(0.05)
    return alive


def test_timeout_crash_segfault_and_system_exit_each_cost_one_result():
    started = time.monotonic()
    run = run_dbtest("-j", "2", "--timeout", "3", str(FIXTURES / "faults"), timeout=60)
    assert time.monotonic() - started < 30
    assert run.code == 1, run
    # SystemExit raised by the test fails it (as pytest counts it); the timeout,
    # the crash and the segfault are errors.
    assert run.last_line.startswith("4 passed, 1 failed, 3 errors"), run
    assert "test_sleeps_past_the_timeout - timed out after 3 s" in run.stdout
    assert "SIGSEGV" in run.stdout
    assert "exited with code 3" in run.stdout
    assert "SystemExit: 0" in run.stdout


def _start(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[str]:
    # The command must get SIGINT as it would from a terminal. Under a shell's
    # background job (`scripts/test &`) this process starts with SIGINT ignored,
    # which exec passes on; a handled signal is reset to its default instead.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(
            [dbtest_executable(), *args],
            cwd=cwd,
            env={**os.environ, "NO_COLOR": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_prints_a_partial_report_exits_2_and_leaves_no_workers(tmp_path):
    log = tmp_path / "pids"
    proc = _start(["-j", "2", "--no-cache", str(FIXTURES / "slow")], {"DBTEST_PID_LOG": str(log)})
    pids = set(_wait_for_lines(log, 3))
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=20)
    assert proc.returncode == 2, stdout
    assert "interrupted" in stdout
    assert "1 passed" in stdout.splitlines()[-1], stdout
    assert "not run" in stdout.splitlines()[-1], stdout
    assert not _wait_dead(pids), "workers outlived the coordinator"


def test_killing_the_coordinator_leaves_no_workers(tmp_path):
    log = tmp_path / "pids"
    proc = _start(["-j", "2", "--no-cache", str(FIXTURES / "slow")], {"DBTEST_PID_LOG": str(log)})
    pids = set(_wait_for_lines(log, 3))
    proc.kill()
    proc.communicate(timeout=10)
    assert not _wait_dead(pids), "workers outlived a SIGKILLed coordinator"


SPAWNS = """
import os, subprocess, time

def test_spawns_and_hangs():
    in_its_group = subprocess.Popen(["sleep", "60"])
    own_session = subprocess.Popen(["sleep", "60"], start_new_session=True)
    # A daemon: its parent (sh) exits at once, leaving it an orphan.
    daemon = subprocess.run(["sh", "-c", "setsid sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
    with open(os.environ["DBTEST_PID_LOG"], "w") as log:
        log.write(f"{in_its_group.pid} {own_session.pid} {daemon.stdout.strip()}\\n")
    time.sleep(60)
"""


def test_killing_the_coordinator_ends_the_processes_tests_started(project, tmp_path):
    log = tmp_path / "pids"
    root = project({"test_spawns.py": SPAWNS})
    for jobs in ("1", "2"):
        log.unlink(missing_ok=True)
        proc = _start(["-j", jobs, "--no-cache", str(root)], {"DBTEST_PID_LOG": str(log)})
        started = set(_wait_for_lines(log, 1))
        assert len(started) == 3 and all(_alive(pid) for pid in started)
        proc.kill()
        proc.communicate(timeout=10)
        assert not _wait_dead(started, timeout=10), "processes started by a test outlived a SIGKILLed coordinator"


def test_daemons_a_test_leaves_do_not_outlive_the_run(project, tmp_path):
    pidfile = tmp_path / "daemon"
    root = project(
        {
            "test_daemon.py": f"""
import subprocess
def test_leaves_a_daemon():
    out = subprocess.run(["sh", "-c", "setsid sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
    open({str(pidfile)!r}, "w").write(out.stdout)
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root))
    assert run.code == 0, run
    daemon = int(pidfile.read_text())
    assert not _wait_dead({daemon}, timeout=3), "a daemon started by a test outlived the run"


def _flaky_module(counter: Path, delay: float = 0.0) -> str:
    """A test module whose ``test_flaky`` fails on its first run and passes after."""
    return f"""
import pathlib, time
COUNTER = pathlib.Path({str(counter)!r})

def test_flaky():
    time.sleep({delay})
    n = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(n + 1))
    assert n >= 1
"""


def test_retries_report_flaky_tests(project, tmp_path):
    counter = tmp_path / "counter"
    root = project({"test_flaky.py": _flaky_module(counter) + "\ndef test_steady():\n    pass\n"})
    run = run_dbtest("--retries", "2", "--no-cache", str(root))
    assert run.code == 0, run
    assert run.last_line.startswith("1 passed, 0 failed, 1 flaky"), run
    counter.unlink()
    run = run_dbtest("--retries", "1", "--flaky-result", "fail", "--no-cache", str(root))
    assert run.code == 1, run


_PIDS = """
import os, pathlib, time

LOG = pathlib.Path({log!r})


def record(event):
    with open(LOG, "a") as f:
        f.write(f"{{event}} {{os.getpid()}}\\n")


def pids(event):
    lines = LOG.read_text().splitlines() if LOG.exists() else []
    return [int(pid) for name, pid in (line.split() for line in lines) if name == event]


def ended(pid):
    try:
        with open(f"/proc/{{pid}}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] == "Z"
    except OSError:
        return True


def wait_for(condition, what):
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting for " + what)
        time.sleep(0.02)
"""


def test_a_retry_runs_on_a_worker_ended_for_want_of_work(project, tmp_path):
    # TestSlow is one batch (its class has set-up) on one worker; test_quick.py
    # is the other's only work, after which that worker is ended for want of
    # work. test_a_flaky's first attempt fails only once that worker has exited,
    # and test_b_late keeps its own worker busy until the retry has run
    # (test_c_last follows it, so that its worker is not on its batch's last test
    # and gets no second batch queued): the retry can only run on a worker
    # started in the ended slot, which is not a restart (none are allowed).
    # Each test records the pid it ran in.
    log = tmp_path / "pids"
    counter = tmp_path / "counter"
    helpers = _PIDS.format(log=str(log))
    root = project(
        {
            "test_slow.py": helpers
            + f"""
import unittest

COUNTER = pathlib.Path({str(counter)!r})


class TestSlow(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pass

    def test_a_flaky(self):
        n = int(COUNTER.read_text()) if COUNTER.exists() else 0
        COUNTER.write_text(str(n + 1))
        if n >= 1:
            record("retry")
            return
        wait_for(lambda: pids("quick"), "test_quick to run")
        wait_for(lambda: ended(pids("quick")[0]), "test_quick's worker to end")
        record("failed")
        raise AssertionError("the first attempt fails")

    def test_b_late(self):
        wait_for(lambda: pids("retry"), "the retry to run elsewhere")

    def test_c_last(self):
        pass
""",
            "test_quick.py": helpers + "\n\ndef test_quick():\n    record('quick')\n",
        }
    )
    run = run_dbtest("-j", "2", "--retries", "1", "--max-worker-restart", "0", "--no-cache", str(root))
    assert run.code == 0, run
    assert run.last_line.startswith("3 passed, 0 failed, 1 flaky"), run
    events = {name: int(pid) for name, pid in (line.split() for line in log.read_text().splitlines())}
    assert events["failed"] != events["quick"], events
    assert events["retry"] not in (events["failed"], events["quick"]), events


def test_last_failed_and_failed_first(project):
    root = project(
        {
            "test_a.py": "def test_ok():\n    pass\n\ndef test_bad():\n    assert False\n",
            "test_b.py": "def test_other():\n    pass\n",
        }
    )
    first = run_dbtest(str(root), cwd=root)
    assert first.last_line.startswith("2 passed, 1 failed"), first
    rerun = run_dbtest("--lf", "-v", str(root), cwd=root)
    assert rerun.last_line.startswith("0 passed, 1 failed"), rerun
    assert "test_a.py::test_bad" in rerun.stdout
    failed_first = run_dbtest("--ff", "-v", "-j", "1", str(root), cwd=root)
    listed = [line.split()[1] for line in failed_first.stdout.splitlines() if line.startswith(("PASSED", "FAILED"))]
    assert listed[0].startswith("test_a.py"), listed


def test_an_interrupted_runs_results_survive_in_the_journal(project, tmp_path):
    log = tmp_path / "pids"
    root = project(
        {
            "test_j.py": f"""
import os, time
def test_fails_fast():
    assert False
def test_hangs():
    with open({str(log)!r}, "a") as f:
        f.write(str(os.getpid()) + "\\n")
    time.sleep(60)
""",
        }
    )
    # From the project: ids and the cache are relative to the rootdir pytest's
    # rules find from there.
    proc = _start(["-j", "1", str(root)], {}, cwd=root)
    _wait_for_lines(log, 1)
    time.sleep(0.3)
    proc.kill()
    proc.communicate(timeout=10)
    journal = (root / ".dbtest" / "journal.jsonl").read_text().splitlines()
    assert any(json.loads(line).get("id") == "test_j.py::test_fails_fast" for line in journal[1:]), journal
    rerun = run_dbtest("--lf", "-k", "fails_fast", str(root), cwd=root)
    assert rerun.last_line.startswith("0 passed, 1 failed"), rerun


def test_workers_are_recycled_after_n_tests(project, tmp_path):
    log = tmp_path / "pids"
    body = f"import os\n\ndef _r():\n    open({str(log)!r}, 'a').write(str(os.getpid()) + '\\n')\n\n"
    body += "".join(f"def test_{i}():\n    _r()\n\n" for i in range(6))
    root = project({"test_r.py": body})
    run = run_dbtest("-j", "1", "--max-tests-per-worker", "2", "--no-cache", str(root))
    assert run.code == 0, run
    assert len(set(log.read_text().split())) == 3, log.read_text()


def test_maxfail_stops_dispatching_and_says_how_many_did_not_run(project):
    tests = "".join(f"def test_{i}():\n    assert False\n\n" for i in range(40))
    root = project({"test_m.py": tests})
    run = run_dbtest("-j", "1", "-x", "--no-cache", str(root))
    assert run.code == 1, run
    assert "stopped after 1 failure" in run.stdout
    assert "not run" in run.last_line, run


def test_leaked_child_processes_are_killed_and_reported(project, tmp_path):
    pidfile = tmp_path / "child"
    root = project(
        {
            "test_leak.py": f"""
import subprocess
def test_leaks():
    p = subprocess.Popen(["sleep", "100"])
    open({str(pidfile)!r}, "w").write(str(p.pid))
def test_after():
    pass
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root))
    assert run.code == 0, run
    assert "killed child process" in run.stdout, run
    assert not _wait_dead({int(pidfile.read_text())}, timeout=3)


def test_system_exit_in_a_test_does_not_end_the_worker(project):
    root = project({"test_s.py": "import sys\ndef test_a():\n    sys.exit(2)\ndef test_b():\n    pass\n"})
    run = run_dbtest("-j", "1", "--no-cache", str(root))
    assert run.last_line.startswith("1 passed, 1 failed"), run
    assert "SystemExit: 2" in run.stdout


def test_sigterm_ends_the_run_like_ctrl_c_and_cleans_up(tmp_path):
    log = tmp_path / "pids"
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = _start(["-j", "2", "--no-cache", str(FIXTURES / "slow")], {"DBTEST_PID_LOG": str(log), "TMPDIR": str(temp)})
    pids = set(_wait_for_lines(log, 3))
    proc.terminate()
    stdout, _ = proc.communicate(timeout=20)
    assert proc.returncode == 2, stdout
    assert "interrupted" in stdout
    assert not _wait_dead(pids), "workers outlived the coordinator"
    assert not list(temp.iterdir()), "the run's temporary directory is removed"


def test_an_interrupted_run_names_the_tests_it_stopped_with_their_stacks(tmp_path):
    log = tmp_path / "pids"
    report = tmp_path / "report.json"
    args = ["-j", "2", "--no-cache", "--json", str(report), str(FIXTURES / "slow")]
    for stop in (signal.SIGINT, signal.SIGTERM):
        log.unlink(missing_ok=True)
        proc = _start(args, {"DBTEST_PID_LOG": str(log)})
        _wait_for_lines(log, 3)
        proc.send_signal(stop)
        stdout, _ = proc.communicate(timeout=20)
        assert proc.returncode == 2, stdout
        # Two slow tests were running: each is named, with its time and stack.
        assert stdout.splitlines()[-1].startswith("1 passed, 0 failed, 2 errors, 1 not run"), stdout
        tests = json.loads(report.read_text())["tests"]
        stopped = [t for t in tests if t["error_kind"] == "interrupted"]
        assert len(stopped) == 2, tests
        for test in stopped:
            name = test["id"].split("::")[1]
            assert test["outcome"] == "error"
            assert test["message"].startswith("interrupted after "), test
            assert f'test_slow.py", line {16 + 5 * int(name[-1])} in {name}' in test["traceback"], test
            assert f"ERROR {test['id']} - interrupted after" in stdout, stdout


def test_run_directories_of_dead_coordinators_are_removed(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer exists
    abandoned = temp / f"dbtest-run-{dead.pid}-abc123"
    abandoned.mkdir()
    (abandoned / "worker-1.tb").write_text("")
    alive = temp / f"dbtest-run-{os.getpid()}-def456"
    alive.mkdir()
    unrelated = temp / "dbtest-run-notapid"
    unrelated.mkdir()
    run = run_dbtest("--no-cache", str(FIXTURES / "skeleton"), env={"TMPDIR": str(temp)})
    assert run.last_line.startswith("4 passed, 1 failed"), run
    assert sorted(p.name for p in temp.iterdir()) == sorted([alive.name, unrelated.name])


IMPORT_ONLY_MODULE = """
import pytest
import a_module_that_is_not_installed

CASES = [n for n in range(3)]


@pytest.mark.parametrize("n", CASES)
def test_case(n):
    pass
"""

SKIPPED_IMPORT_ONLY_MODULE = """
import pytest

pytest.skip("no backend here", allow_module_level=True)

CASES = [n for n in range(3)]


@pytest.mark.parametrize("n", CASES)
def test_case(n):
    pass
"""


def test_a_module_whose_tests_only_an_import_shows_is_not_lost_when_the_import_fails(project, tmp_path):
    """Its error (or module-level skip) is reported under the file's id, as
    pytest reports a collection error, whatever `-k` says and in one shard of a
    matrix; it used to vanish from the run and its counts."""
    root = project(
        {
            "tests/test_broken.py": IMPORT_ONLY_MODULE,
            "tests/test_skipped.py": SKIPPED_IMPORT_ONLY_MODULE,
            "tests/test_fine.py": "def test_fine():\n    pass\n",
        }
    )
    report = tmp_path / "report.json"
    run = run_dbtest("tests", "-j", "2", "--json", str(report), cwd=root)
    assert run.code == 1, run
    assert run.last_line.startswith("1 passed, 0 failed, 1 error, 1 skipped"), run
    assert "ERROR tests/test_broken.py - cannot import test_broken: ModuleNotFoundError" in run.stdout, run
    outcomes = {t["id"]: t["outcome"] for t in json.loads(report.read_text())["tests"]}
    assert outcomes == {
        "tests/test_fine.py::test_fine": "passed",
        "tests/test_broken.py": "error",
        "tests/test_skipped.py": "skipped",
    }

    selected = run_dbtest("tests", "-k", "fine", cwd=root)
    assert "ERROR tests/test_broken.py" in selected.stdout, selected
    assert selected.last_line.startswith("1 passed, 0 failed, 1 error"), selected

    errors = 0
    for shard in ("1/2", "2/2"):
        part = run_dbtest("tests", "--shard", shard, cwd=root)
        errors += part.stdout.count("ERROR tests/test_broken.py")
    assert errors == 1
