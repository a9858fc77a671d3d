"""A real worker (`python -m dbtest.worker`) driven over its two protocol fds,
without a coordinator: what it asks for and when."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dbtest.worker import protocol

from .conftest import COLLECTOR_TESTS

MODULE = """\
def test_listed():
    pass


def test_known_elsewhere():
    pass


def test_new():
    pass
"""


class Worker:
    def __init__(self, root: Path) -> None:
        jobs_read, self._jobs = os.pipe()
        self._results, results_write = os.pipe()

        def place_fds() -> None:
            # Out of the way first: either pipe end may itself be fd 3 or 4.
            jobs, results = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (jobs_read, results_write))
            os.dup2(jobs, 3)
            os.dup2(results, 4)

        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "dbtest.worker"],
            cwd=root,
            preexec_fn=place_fds,  # noqa: PLW1509 - the test process starts no threads
            stdout=subprocess.DEVNULL,
            close_fds=False,
        )
        os.close(jobs_read)
        os.close(results_write)
        self.channel = protocol.Channel(self._results, self._jobs)

    def receive(self, within: float = 20.0) -> dict[str, Any] | None:
        """The next message, or None if none came within `within` seconds."""
        ready, _, _ = select.select([self._results], [], [], within)
        return self.channel.receive() if ready else None

    def close(self) -> None:
        os.close(self._jobs)
        try:
            self.process.wait(timeout=20)
        finally:
            os.close(self._results)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    (tmp_path / "test_mod.py").write_text(MODULE)
    started = Worker(tmp_path)
    hello = started.receive()
    assert hello is not None and hello["type"] == "hello"
    started.channel.send(
        protocol.config(1, str(tmp_path), True, 1 << 20, str(tmp_path / "worker.tb"), str(tmp_path / ".dbtest"))
    )
    yield started
    started.close()


def _run(
    worker: Worker, root: Path, known: list[str], module: str = "test_mod", tests: tuple[str, ...] = ("test_listed",)
) -> None:
    """Batch 1 of `module`: `tests`, and with `known` the module's other tests
    (run_unlisted), or without it nothing else."""
    worker.channel.send(
        {
            "type": "run",
            "batch": 1,
            "module": {"path": str(root / f"{module}.py"), "name": module, "import_root": str(root)},
            "tests": list(tests),
            "run_unlisted": bool(known),
            "known": known,
        }
    )


def test_a_module_with_nothing_new_runs_without_waiting_for_extend(worker: Worker, tmp_path: Path) -> None:
    _run(worker, tmp_path, ["test_listed", "test_known_elsewhere", "test_new"])
    imported = worker.receive()
    assert imported is not None and imported["type"] == "imported"
    assert imported["unlisted"] == []
    result = worker.receive()
    assert result is not None and result["type"] == "result", "the worker waited for an extend"
    assert (result["position"], result["outcome"]) == (0, "passed")


def test_only_tests_neither_listed_nor_known_are_reported(worker: Worker, tmp_path: Path) -> None:
    _run(worker, tmp_path, ["test_listed", "test_known_elsewhere"])
    imported = worker.receive()
    assert imported is not None and imported["type"] == "imported"
    assert [found["name"] for found in imported["unlisted"]] == ["test_new"]
    assert worker.receive(within=0.3) is None, "ran before the coordinator answered"
    worker.channel.send({"type": "extend", "batch": 1, "unlisted": [0], "tests": [], "order": [0, 1]})
    positions = [worker.receive(), worker.receive()]
    assert [(m["type"], m["position"]) for m in positions if m] == [("result", 0), ("result", 1)]


def test_a_started_worker_runs_tests_with_the_collector_on(worker: Worker, tmp_path: Path) -> None:
    (tmp_path / "test_gc.py").write_text(COLLECTOR_TESTS)
    tests = ("test_the_collector_is_on", "test_nothing_is_hidden_from_it", "test_cycles_are_collected_unasked")
    _run(worker, tmp_path, [], module="test_gc", tests=tests)
    messages = [worker.receive() for _ in range(4)]
    outcomes = [(m["position"], m["outcome"]) for m in messages if m and m["type"] == "result"]
    assert outcomes == [(0, "passed"), (1, "passed"), (2, "passed")], messages


LOGGING_MODULE = """\
import os

with open(os.path.join(os.path.dirname(__file__), "events.log"), "a") as log:
    log.write("import " + __name__ + "\\n")


def test_x():
    with open(os.path.join(os.path.dirname(__file__), "events.log"), "a") as log:
        log.write("test " + __name__ + "\\n")
"""


def test_a_worker_started_on_its_own_imports_the_preload_modules_before_any_test(tmp_path: Path) -> None:
    refs = []
    for name in ("test_first", "test_second"):
        (tmp_path / f"{name}.py").write_text(LOGGING_MODULE)
        refs.append({"path": str(tmp_path / f"{name}.py"), "name": name, "import_root": str(tmp_path)})
    started = Worker(tmp_path)
    try:
        assert started.receive() is not None
        config = protocol.config(1, str(tmp_path), True, 1 << 20, str(tmp_path / "w.tb"), None, preload=refs)
        started.channel.send(protocol.canonical(config))
        _run(started, tmp_path, [], module="test_second", tests=("test_x",))
        messages = [started.receive() for _ in range(3)]
        assert [m["type"] for m in messages if m] == ["imported", "result", "batch_done"], messages
        events = (tmp_path / "events.log").read_text().splitlines()
        assert events == ["import test_first", "import test_second", "test test_second"]
    finally:
        started.close()
