"""A worker started and driven as the coordinator does: `python -P -m dbtest.worker`
with the jobs pipe on its fd 3 and the results pipe on its fd 4, speaking the
protocol that `dbtest.worker.protocol` defines (normative: workers/PROTOCOL.md)."""

from __future__ import annotations

import fcntl
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dbtest.worker import protocol

WORKER_ARGS = ("-P", "-m", "dbtest.worker")


class ProbeError(Exception):
    """The worker did not do what the probe needs."""


def _high_fd(fd: int) -> int:
    """``fd`` moved above 100 (so that dup2 onto 3 and 4 always makes a fresh,
    inheritable copy)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
    os.close(fd)
    return high


def config_message(root: Path, cache_dir: Path | None) -> dict[str, Any]:
    """The coordinator's first message, as for a plain run in ``root``."""
    return protocol.canonical(
        protocol.config(
            1, str(root), True, 1 << 20, str(root / "tracebacks.txt"), None if cache_dir is None else str(cache_dir)
        )
    )


def run_message(batch: int, module: dict[str, str], tests: list[str], known: list[str] | None) -> dict[str, Any]:
    """A batch of ``tests``; with ``known`` (every test of the module the coordinator
    has), the module's other tests are looked for, as in a plain run."""
    return protocol.canonical(
        {
            "type": "run",
            "batch": batch,
            "module": module,
            "tests": tests,
            "run_unlisted": known is not None,
            "known": known or [],
            "collect_only": False,
        }
    )


class Worker:
    """One worker process. ``interpreter_args`` stand for `-P -m dbtest.worker`
    (a profiler wraps it); with ``quiet``, its stderr goes to /dev/null too
    (else to this process's stderr, where its complaints are seen)."""

    def __init__(self, cwd: Path, interpreter_args: Sequence[str] = WORKER_ARGS, quiet: bool = True) -> None:
        jobs_read, jobs_write = (_high_fd(fd) for fd in os.pipe())
        results_read, results_write = (_high_fd(fd) for fd in os.pipe())
        null = _high_fd(os.open(os.devnull, os.O_RDWR))
        actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1)]
        if quiet:
            actions.append((os.POSIX_SPAWN_DUP2, null, 2))
        actions += [(os.POSIX_SPAWN_DUP2, jobs_read, 3), (os.POSIX_SPAWN_DUP2, results_write, 4)]
        argv = [sys.executable, *interpreter_args]
        old = os.getcwd()
        os.chdir(cwd)  # posix_spawn has no cwd of its own before Python 3.13
        try:
            self.pid = os.posix_spawn(sys.executable, argv, dict(os.environ), file_actions=actions)
        finally:
            os.chdir(old)
        for fd in (jobs_read, results_write, null):
            os.close(fd)
        self.channel = protocol.Channel(results_read, jobs_write)
        self.jobs_open = True

    def send(self, frames: bytes) -> None:
        """Whole frames (``protocol.encode``), written in order."""
        self.channel.send_frame(frames)

    def close_jobs(self) -> None:
        """End of jobs: the worker finishes its modules and exits."""
        if self.jobs_open:
            self.jobs_open = False
            os.close(self.channel.write_fd)

    def messages(self) -> Iterator[dict[str, Any]]:
        """Every message the worker sends, until it closes its end. Reads in large
        chunks, so that the driver keeps up with a worker sending many small frames."""
        fd, buffer, offset = self.channel.read_fd, b"", 0
        while True:
            if len(buffer) - offset >= 4:
                end = offset + 4 + int.from_bytes(buffer[offset : offset + 4], "big")
                if len(buffer) >= end:
                    yield protocol.decode_body(buffer[offset + 4 : end])
                    offset = end
                    continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            buffer, offset = buffer[offset:] + chunk, 0

    def wait(self) -> int:
        """Closes the jobs pipe, waits for the worker's exit; its exit code."""
        self.close_jobs()
        _, status = os.waitpid(self.pid, 0)
        os.close(self.channel.read_fd)
        return os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.wait()


def expect(messages: Iterator[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The next message, which must be a ``kind``."""
    message = next(messages, None)
    if message is None:
        raise ProbeError(f"the worker ended before sending {kind!r}")
    if message["type"] != kind:
        raise ProbeError(f"expected {kind!r} from the worker, got {message!r}")
    return message
