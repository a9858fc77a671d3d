"""`dbtest --watch` end to end, with the real `dbtest` command: Ctrl-C during a
run lets it finish (a second one interrupts it), and workers are kept from one
run to the next unless they imported what changed. Every wait is bounded;
nothing here depends on how long anything takes."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

from .conftest import dbtest_executable

# tests/test_a.py -> pkg.a, tests/test_b.py -> pkg.b; each test appends its
# worker's pid to a file of its own in $PIDS.
REUSE_FILES = {
    "pkg/__init__.py": "",
    "pkg/a.py": "A = 1\n",
    "pkg/b.py": "B = 2\n",
    "tests/test_a.py": (
        "import os\n\nfrom pkg.a import A\n\n\ndef test_a():\n"
        "    with open(os.path.join(os.environ['PIDS'], 'a'), 'a') as f:\n"
        "        f.write(f'{os.getpid()}\\n')\n"
        "    assert A\n"
    ),
    "tests/test_b.py": (
        "import os\n\nfrom pkg.b import B\n\n\ndef test_b():\n"
        "    with open(os.path.join(os.environ['PIDS'], 'b'), 'a') as f:\n"
        "        f.write(f'{os.getpid()}\\n')\n"
        "    assert B\n"
    ),
}

# test_gate says it started, then waits (at most a minute) to be released.
GATE_FILES = {
    "tests/test_gate.py": (
        "import os\nimport time\nfrom pathlib import Path\n\n\ndef test_gate():\n"
        "    gate = Path(os.environ['GATE'])\n"
        "    (gate / 'started').touch()\n"
        "    deadline = time.monotonic() + 60\n"
        "    while not (gate / 'release').exists():\n"
        "        assert time.monotonic() < deadline, 'never released'\n"
        "        time.sleep(0.02)\n"
    ),
    "tests/test_other.py": "def test_other():\n    pass\n",
}


class Watch:
    """A running `dbtest --watch` and what it has printed."""

    def __init__(self, root: Path, *args: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [dbtest_executable(), "--watch", "-v", *args],
            cwd=root,
            env={**os.environ, "NO_COLOR": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: [self.lines.put(line) for line in stdout], daemon=True).start()

    def read_until(self, text: str, timeout: float = 60) -> str:
        """What it printed up to a line holding `text`, waiting at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        chunk: list[str] = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            chunk.append(line)
            if text in line:
                return "".join(chunk)
        raise AssertionError(f"no line with {text!r} within {timeout}s:\n{''.join(self.seen)}")

    def exit_code(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout=timeout)
        # The reader thread has everything once the pipe is closed.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.lines.get(timeout=0.2))
            except queue.Empty:
                break
        return code

    @property
    def output(self) -> str:
        return "".join(self.seen)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def edit(root: Path, rel: str) -> None:
    with open(root / rel, "a") as handle:
        handle.write("\n# edited\n")


def wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout}s"
        time.sleep(0.02)


def test_workers_that_imported_nothing_changed_serve_the_next_run(project, tmp_path):
    root = project(REUSE_FILES)
    pids = tmp_path / "pids"
    pids.mkdir()

    def last_pid(test: str) -> int:
        return int((pids / test).read_text().split()[-1])

    watch = Watch(root, "-j", "1", env={"PIDS": str(pids)})
    try:
        first = watch.read_until("waiting for changes")
        assert "2 passed" in first, first
        assert last_pid("a") == last_pid("b")  # one worker ran both
        first_worker = last_pid("a")

        # It imported pkg/a.py: a new worker runs test_a.
        edit(root, "pkg/a.py")
        second = watch.read_until("waiting for changes")
        assert "run 2: pkg/a.py changed" in second, second
        assert "reusing 0 workers; 1 ended (imported what changed)" in second, second
        assert "1 passed" in second and "test_b" not in second, second
        second_worker = last_pid("a")
        assert second_worker != first_worker

        # The new worker imported test_a and pkg.a only: it runs test_b.
        edit(root, "pkg/b.py")
        third = watch.read_until("waiting for changes")
        assert "run 3: pkg/b.py changed" in third, third
        assert "reusing 1 worker" in third and "ended" not in third, third
        assert "1 passed" in third, third
        assert last_pid("b") == second_worker

        # It has imported pkg.a (round 2) and pkg.b now: an edit to either ends it.
        edit(root, "pkg/a.py")
        fourth = watch.read_until("waiting for changes")
        assert "reusing 0 workers; 1 ended" in fourth, fourth
        assert last_pid("a") not in (first_worker, second_worker)

        # Ctrl-C while waiting leaves at once.
        watch.proc.send_signal(signal.SIGINT)
        assert watch.exit_code() == 2, watch.output
    finally:
        watch.stop()


def test_a_first_ctrl_c_lets_the_run_finish_then_leaves(project, tmp_path):
    root = project(GATE_FILES)
    gate = tmp_path / "gate"
    gate.mkdir()
    watch = Watch(root, "-j", "1", env={"GATE": str(gate)})
    try:
        wait_for(gate / "started")
        watch.proc.send_signal(signal.SIGINT)
        watch.read_until("stopping after this run; Ctrl-C again to interrupt it")
        (gate / "release").touch()
        assert watch.exit_code() == 2, watch.output
        assert "2 passed" in watch.output, watch.output
        assert "interrupted" not in watch.output, watch.output
        assert "waiting for changes" not in watch.output, watch.output
    finally:
        (gate / "release").touch()
        watch.stop()


def test_a_second_ctrl_c_interrupts_the_run(project, tmp_path):
    root = project(GATE_FILES)
    gate = tmp_path / "gate"
    gate.mkdir()
    watch = Watch(root, "-j", "1", env={"GATE": str(gate)})
    try:
        wait_for(gate / "started")
        watch.proc.send_signal(signal.SIGINT)
        watch.read_until("stopping after this run")
        watch.proc.send_signal(signal.SIGINT)
        assert watch.exit_code() == 2, watch.output
        # As a plain run's Ctrl-C: the running test is named as interrupted.
        assert "ERROR tests/test_gate.py::test_gate - interrupted after" in watch.output, watch.output
        assert "interrupted: results so far are shown" in watch.output, watch.output
        assert "waiting for changes" not in watch.output, watch.output
    finally:
        (gate / "release").touch()
        watch.stop()


CONFIG_FILES = {
    "pytest.ini": "[pytest]\n",
    "tests/test_x.py": (
        "import pytest\n\n\ndef test_one():\n    pass\n\n\n"
        "@pytest.mark.xfail(reason='it passes')\ndef test_two():\n    pass\n\n\n"
        "def test_three():\n    pass\n"
    ),
}


def test_a_configuration_change_is_read_for_the_next_run(project):
    root = project(CONFIG_FILES)
    watch = Watch(root, "-j", "1", env={})
    try:
        first = watch.read_until("waiting for changes")
        assert "2 passed, 0 failed, 1 xpassed" in first, first
        # What the coordinator reads (addopts' -k) and what the worker does
        # with it (a strict xfail that passes fails) both change.
        (root / "pytest.ini").write_text("[pytest]\nxfail_strict = true\naddopts = -k 'one or two'\n")
        second = watch.read_until("waiting for changes")
        assert "pytest.ini changed" in second, second
        assert "1 passed, 1 failed" in second, second
        assert "test_three" not in second, second
        watch.proc.send_signal(signal.SIGINT)
        assert watch.exit_code() == 2, watch.output
    finally:
        watch.stop()
