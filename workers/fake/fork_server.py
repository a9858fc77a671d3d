"""A deliberately misbehaving stand-in for the fork server.

``python workers/fake/worker.py MODE --fork-server PARENT_PID`` lands here (see
workers/PROTOCOL.md, "The fork server"). For the first ``$DBTEST_FAKE_FORKS``
requests (default 1) it forks a worker in MODE as the real server does: its own
process group, SIGKILL when this process ends (PR_SET_PDEATHSIG), fds 3, 4 and
1/2 from the request. Every later request fails the way
``$DBTEST_FAKE_FORK_SERVER`` says:

  refuse   answer ``P 0`` (could not fork)
  garbage  answer a record of an unknown type

Half a second after the first failure it creates the file ``$DBTEST_FAKE_GATE``
(when set): fake workers in ``gated`` mode wait for it, so a test is still
running when the server fails, and can only finish if the server's workers
outlive the failure. It keeps reaping its workers and reporting their exits.
Standard library only.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable

RECORD = struct.Struct("<cIi")
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(70)


def become_worker(fds: list[int], control: socket.socket, run_worker: Callable[[str], None], mode: str) -> None:
    server = os.getppid()
    control.close()
    os.setpgid(0, 0)
    die_with_parent(server)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in fds]
    for fd in fds:
        os.close(fd)
    jobs, results, output = high
    os.dup2(jobs, 3)
    os.dup2(results, 4)
    os.dup2(output, 1)
    os.dup2(output, 2)
    for fd in high:
        os.close(fd)
    try:
        run_worker(mode)
    finally:
        os._exit(0)


def report_exits(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        control.sendall(RECORD.pack(b"X", pid, status))


def serve(run_worker: Callable[[str], None], mode: str, parent: int) -> None:
    die_with_parent(parent)
    forks = int(os.environ.get("DBTEST_FAKE_FORKS", "1"))
    failure = os.environ.get("DBTEST_FAKE_FORK_SERVER", "refuse")
    gate = os.environ.get("DBTEST_FAKE_GATE")
    control = socket.socket(fileno=os.dup(3))
    os.close(3)
    forked = 0
    gate_at: float | None = None
    while True:
        ready, _, _ = select.select([control], [], [], 0.02)
        report_exits(control)
        if gate and gate_at is not None and time.monotonic() >= gate_at:
            open(gate, "w").close()
            gate = None
        if not ready:
            continue
        message, fds, _, _ = socket.recv_fds(control, 1, 3)
        if not message:
            return
        if forked < forks and len(fds) == 3:
            forked += 1
            child = os.fork()
            if child == 0:
                become_worker(fds, control, run_worker, mode)
            for fd in fds:
                os.close(fd)
            control.sendall(RECORD.pack(b"P", child, 0))
            continue
        for fd in fds:
            os.close(fd)
        if failure == "garbage":
            control.sendall(b"Z" + bytes(RECORD.size - 1))
        else:
            control.sendall(RECORD.pack(b"P", 0, 0))
        if gate_at is None:
            gate_at = time.monotonic() + 0.5


def main(run_worker: Callable[[str], None], mode: str) -> None:
    try:
        serve(run_worker, mode, int(sys.argv[sys.argv.index("--fork-server") + 1]))
    except (BrokenPipeError, ConnectionError):
        pass
    os._exit(0)
