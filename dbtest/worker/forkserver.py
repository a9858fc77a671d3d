"""The fork server: ``python -P -m dbtest.worker --fork-server PARENT_PID``.

Starting an interpreter and importing the worker runtime costs about 20 ms of
CPU; forking a process that has already done so costs about one. When the
coordinator starts more than one worker (``-j 8`` on two cores starts eight,
and crashed, timed-out or recycled workers are replaced), it asks this process
for them. Nothing of the project is imported here, so a forked worker is the
same as a freshly started one.

It is started by the ``dbtest`` command before the command line is parsed (see
`dbtest/launch.py`), or by the coordinator. The control channel is a Unix
socket on fd 3 (see `workers/PROTOCOL.md`). A
request is the byte ``F`` carrying three descriptors (SCM_RIGHTS): the new
worker's jobs pipe (read end), results pipe (write end) and output pipe (write
end, its stdout and stderr); or ``I``, a little-endian u32 length and that many
bytes of module names, one per line, to import before forking anything more;
or ``C`` and a worker's ``config`` frame (`--import-all`): the server applies it
as a worker would and imports its ``preload`` test modules, then answers.
Replies are 9-byte records, ``<c I i``: ``P`` and
the pid of the worker just forked, ``X``, the pid of a worker that ended and
its raw wait status, or ``R``, the number of modules ``C`` imported and of
those that failed.

The server is the run's reaper: a child subreaper (``PR_SET_CHILD_SUBREAPER``),
so that a process a test started whose parent has died (a daemon, or a test's
subprocess once its worker is gone) becomes the server's child rather than
init's. When the coordinator goes, however it goes (the socket closes; SIGTERM
as its parent-death signal if it was killed), the server ends every worker's
process group and then every process left in its care, and exits: nothing a
test started outlives the run.
"""

from __future__ import annotations

import _socket
import faulthandler  # noqa: F401 - imported once here, not in each worker (thread dumps)
import fcntl
import os
import select
import signal
import struct
import sys
import time
from collections.abc import Callable

# Imported here, once, so that every forked worker already has them.
from . import main as worker_main
from .capture import FdCapture  # noqa: F401
from .execute import Runner  # noqa: F401
from .rewrite import set_cache_dir  # noqa: F401

_RECORD = struct.Struct("<cIi")
_FD = struct.Struct("i")
_HIGH_FD = 200
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# How long the server spends ending what the tests left behind.
_CLEANUP_WITHIN = 5.0


class _CoordinatorGone(Exception):
    """SIGTERM: the coordinator died (the server's parent-death signal) or asks it to go."""


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(prctl: Callable[..., int] | None, parent: int, death: int = signal.SIGKILL) -> None:
    """``death`` when the parent ends, so that no process outlives the run."""
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, death)
    if os.getppid() != parent:
        os._exit(70)


def _children() -> list[int]:
    try:
        with open(f"/proc/self/task/{os.getpid()}/children", "rb") as children:
            return [int(pid) for pid in children.read().split()]
    except OSError:
        return []


def _end_everything(workers: set[int]) -> None:
    """Ends every worker's process group, then every process that is (or, as
    its parent dies, becomes) a child of this server, until none is left."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for pid in workers:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
    deadline = time.monotonic() + _CLEANUP_WITHIN
    while True:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return  # no child left, living or dead
            if pid == 0:
                break
        children = _children()
        if not children or time.monotonic() > deadline:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def _become_worker(
    fds: list[int],
    control: _socket.socket,
    wakeup: tuple[int, int],
    prctl: Callable[..., int] | None,
    server: int,
) -> None:
    """In the forked child: take the worker's place on fds 1-4 and run it."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    control.close()
    for fd in wakeup:
        os.close(fd)
    os.setpgid(0, 0)
    _die_with_parent(prctl, server)
    del sys.argv[1:]
    # Out of the way first, so that no dup2 below overwrites a descriptor still needed.
    jobs, results, output = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    os.dup2(jobs, 3)
    os.dup2(results, 4)
    os.dup2(output, 1)
    os.dup2(output, 2)
    for fd in (jobs, results, output):
        os.close(fd)
    worker_main.run()  # never returns: it ends with os._exit


def _receive_fds(control: _socket.socket) -> tuple[bytes, list[int]]:
    message, ancillary, _, _ = control.recvmsg(1, _socket.CMSG_SPACE(3 * _FD.size))
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            usable = len(data) - len(data) % _FD.size
            fds.extend(fd for (fd,) in _FD.iter_unpack(data[:usable]))
    return message, fds


def _recv_exact(control: _socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = control.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the coordinator left mid-request")
        data += chunk
    return data


def _preload(control: _socket.socket) -> None:
    """``I``: imports modules once here (pytest, for a pytest-style suite), so
    that every worker forked from now on has them. One that fails to import is
    left for the workers, which report it as the tests' import error."""
    (length,) = struct.unpack("<I", _recv_exact(control, 4))
    names = _recv_exact(control, length).decode().split("\n")
    import importlib

    for name in filter(None, names):
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - the workers will say what is wrong
            pass


def _prepare(control: _socket.socket) -> None:
    """``C``: a worker's ``config`` frame (big-endian u32 length, msgpack body).
    Applies it and imports its ``preload`` test modules (see `main.prepare`),
    so that every worker forked from now on has them; answers ``R``."""
    from . import protocol

    (length,) = struct.unpack(">I", _recv_exact(control, 4))
    try:
        config = protocol.decode_body(_recv_exact(control, length))
        imported, failed = worker_main.prepare(config)
    except ConnectionError:
        raise
    except BaseException:  # noqa: BLE001 - half set up: the coordinator starts workers itself
        os._exit(70)
    control.sendall(_RECORD.pack(b"R", imported, failed))


def _report_exits(control: _socket.socket, workers: set[int]) -> None:
    """Reaps children that ended: workers, and processes left in the server's
    care (their records name pids the coordinator does not know, and ignores)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        workers.discard(pid)
        control.sendall(_RECORD.pack(b"X", pid, status))


def _on_sigterm(*_: object) -> None:
    raise _CoordinatorGone


def serve(parent: int, workers: set[int]) -> int:
    server = os.getpid()
    prctl = _load_prctl()
    # A signal it can handle, not SIGKILL: it has the tests' processes to end first.
    signal.signal(signal.SIGTERM, _on_sigterm)
    _die_with_parent(prctl, parent, signal.SIGTERM)
    if prctl is not None:
        prctl(_PR_SET_CHILD_SUBREAPER, 1)
    control_fd = fcntl.fcntl(3, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD)
    os.close(3)
    control = _socket.socket(fileno=control_fd)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_write)
    while True:
        try:
            ready, _, _ = select.select([control, wake_read], [], [])
        except InterruptedError:
            continue
        if wake_read in ready:
            while True:
                try:
                    if not os.read(wake_read, 512):
                        break
                except BlockingIOError:
                    break
            _report_exits(control, workers)
        if control in ready:
            try:
                message, fds = _receive_fds(control)
            except ConnectionError:
                return 0
            if not message:
                return 0
            if message == b"I":
                _preload(control)
                continue
            if message == b"C":
                _prepare(control)
                continue
            child = None  # a malformed request, or no fork: the coordinator starts one itself
            if len(fds) == 3:
                try:
                    child = os.fork()
                except OSError:  # out of processes or memory
                    child = None
                if child == 0:
                    _become_worker(fds, control, (wake_read, wake_write), prctl, server)
                if child:
                    workers.add(child)
            for fd in fds:
                os.close(fd)
            control.sendall(_RECORD.pack(b"P", child or 0, 0))


def run() -> None:
    workers: set[int] = set()
    try:
        code = serve(int(sys.argv[2]), workers)
    except (BrokenPipeError, ConnectionError, _CoordinatorGone):
        code = 0
    try:
        _end_everything(workers)
    except _CoordinatorGone:  # SIGTERM again, before it was ignored
        _end_everything(workers)
    os._exit(code)
