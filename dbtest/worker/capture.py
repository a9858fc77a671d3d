"""Per-test capture of file descriptors 1 and 2.

fd 1 and fd 2 point, for the worker's whole life, at two files opened with
O_APPEND. After a test, whatever they hold is that test's output; reading it
and truncating the file to zero costs two system calls when the test printed
nothing. Subprocesses inherit the fds, so their output is captured too. The
files are named (in the run's private directory, given by the coordinator), so
that when a test kills its worker or times out the coordinator can still show
what it printed.
"""

from __future__ import annotations

import os
import sys

from . import descriptors


def _capture_file(path: str | None, name: str) -> int:
    if path is not None:
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        return descriptors.move_high(os.open(path, flags, 0o600))
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
    else:  # pragma: no cover - non-Linux
        import tempfile

        fd = os.dup(tempfile.TemporaryFile().fileno())  # noqa: SIM115
    import fcntl

    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_APPEND)
    return descriptors.move_high(fd)


class FdCapture:
    """Redirects fd 1 and 2 to capture files until the worker exits."""

    def __init__(self, limit: int, paths: tuple[str, str] | None = None) -> None:
        self.limit = max(limit, 64)
        # The worker keeps its own descriptor of each file (besides fd 1/2),
        # out of the tests' way (see `descriptors`): a test that closes fd 1 or
        # points it elsewhere must neither break capture nor have its own file
        # read and truncated. (The worker's diagnostics go to a copy of the
        # original fd 2 that `main` keeps.)
        out_path, err_path = paths if paths is not None else (None, None)
        self._out = _capture_file(out_path, "dbtest-stdout")
        self._err = _capture_file(err_path, "dbtest-stderr")
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._out, 1)
        os.dup2(self._err, 2)
        # What UTF-8 cannot carry (a lone surrogate from a non-UTF-8 file name)
        # is captured escaped, `\udcff`, rather than failing the test that
        # prints it (as a strict stdout would) or becoming an undecodable byte.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
            except Exception:  # not a TextIOWrapper
                pass

    def _take(self, fd: int) -> str:
        size = os.fstat(fd).st_size
        if not size:
            return ""
        if size <= self.limit:
            data = os.pread(fd, size, 0)
        else:
            half = self.limit // 2
            omitted = size - 2 * half
            data = (
                os.pread(fd, half, 0)
                + f"\n[... {omitted} bytes of output omitted ...]\n".encode()
                + os.pread(fd, half, size - half)
            )
        os.ftruncate(fd, 0)
        return data.decode("utf-8", "replace")

    def take(self) -> tuple[str, str]:
        """Output written since the last call: (stdout, stderr)."""
        out, err = sys.stdout, sys.stderr
        streams = (out, err)
        # Tests may have replaced sys.stdout/err; the originals still buffer output.
        if out is not sys.__stdout__ or err is not sys.__stderr__:
            streams = (out, err, sys.__stdout__, sys.__stderr__)
        for stream in streams:
            try:
                if stream is not None:
                    stream.flush()
            except Exception:  # a test may have closed the stream
                pass
        return self._take(self._out), self._take(self._err)


class NoCapture:
    """``-s``: output goes straight to the coordinator, line by line."""

    def __init__(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
            except Exception:
                pass

    def take(self) -> tuple[str, str]:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        return "", ""
