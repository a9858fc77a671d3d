"""The worker's own file descriptors, kept out of the tests' way.

Everything the worker holds for its life (the protocol pipes, the capture
files, the thread-dump file, its diagnostics copy of stderr, the list of its
children) sits at or above fd 200, where a test's own files never land, and
close-on-exec. A test that closes descriptors wholesale (``os.closerange(3,
65536)``, or a loop of ``os.close``) in the worker itself skips them: they are
not the test's to close, and without them the worker could neither report nor
capture. In a process forked from the worker (a daemon closing what it
inherited) the calls behave as always.
"""

from __future__ import annotations

import errno
import fcntl
import os

HIGH_FD = 200

_owned: set[int] = set()
_owner = 0
_closerange = os.closerange
_close = os.close


def move_high(fd: int) -> int:
    """``fd`` moved to a free descriptor >= HIGH_FD (close-on-exec), and owned."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
    os.close(fd)
    own(high)
    return high


def own(fd: int) -> None:
    _owned.add(fd)


def _guarded_closerange(fd_low: int, fd_high: int, /) -> None:
    if os.getpid() != _owner:
        return _closerange(fd_low, fd_high)
    start = fd_low
    for fd in sorted(_owned):
        if fd_low <= fd < fd_high:
            _closerange(start, fd)
            start = fd + 1
    _closerange(start, fd_high)


def _guarded_close(fd: int) -> None:
    if fd in _owned and os.getpid() == _owner:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    _close(fd)


def guard() -> None:
    """From now on tests cannot close the worker's own descriptors."""
    global _owner
    _owner = os.getpid()
    os.closerange = _guarded_closerange
    os.close = _guarded_close
