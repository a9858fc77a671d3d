"""``capsys``, ``capsysbinary``, ``capteesys``, ``capfd`` and ``capfdbinary``.

The worker captures each test's output itself (`dbtest.worker.capture`: fd 1
and 2 point at its files for the worker's life). A capture fixture takes over
for the test, as pytest's does over pytest's global capture: ``capsys``
replaces ``sys.stdout``/``sys.stderr``, ``capfd`` points fd 1 and 2 at files of
its own (and ``sys.stdout``/``sys.stderr`` at them too). What the test reads
with ``readouterr()`` is not the test's output; what it leaves unread goes to
the test's output when the fixture ends (and at the end of each phase when the
engine announces phases), as under pytest.

``disabled()`` suspends the fixture only: what the block prints is the test's
output (live under ``-s``). pytest also suspends its global capture there, so
the block's output reaches the terminal at once; a worker has no such channel
while it captures.
"""

from __future__ import annotations

import collections
import io
import os
import sys

from . import phases

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CaptureResult = collections.namedtuple("CaptureResult", ["out", "err"])
CaptureResult.__doc__ = "What ``readouterr()`` returns: ``out`` and ``err`` (text, or bytes for the binary fixtures)."

_STREAM_NAMES = {1: "stdout", 2: "stderr"}


class CaptureIO(io.TextIOWrapper):
    """A text stream over bytes in memory (pytest's ``CaptureIO``)."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="UTF-8", newline="", write_through=True)

    def getvalue(self) -> str:
        return self.buffer.getvalue().decode("UTF-8")  # type: ignore[attr-defined]


class TeeCaptureIO(CaptureIO):
    """`CaptureIO` that also writes through to another stream."""

    def __init__(self, other: Any) -> None:
        self._other = other
        super().__init__()

    def write(self, s: str) -> int:
        super().write(s)
        return self._other.write(s)


class _SysCapture:
    """Swaps ``sys.stdout`` or ``sys.stderr`` for a stream of its own."""

    def __init__(self, fd: int, binary: bool, tmpfile: Any = None, tee: bool = False) -> None:
        self.name = _STREAM_NAMES[fd]
        self.binary = binary
        self._old = getattr(sys, self.name)
        if tmpfile is None:
            tmpfile = TeeCaptureIO(self._old) if tee else CaptureIO()
        self.tmpfile = tmpfile

    def start(self) -> None:
        setattr(sys, self.name, self.tmpfile)

    def suspend(self) -> None:
        setattr(sys, self.name, self._old)

    def resume(self) -> None:
        setattr(sys, self.name, self.tmpfile)

    def done(self, only_if_ours: bool = False) -> None:
        if not only_if_ours or getattr(sys, self.name) is self.tmpfile:
            setattr(sys, self.name, self._old)
        self.tmpfile.close()

    def snap(self) -> Any:
        tmpfile = self.tmpfile
        data = tmpfile.buffer.getvalue() if self.binary else tmpfile.getvalue()
        tmpfile.seek(0)
        tmpfile.truncate()
        return data

    def writeorg(self, data: Any) -> None:
        old = self._old
        if self.binary:
            old.flush()
            old.buffer.write(data)
            old.buffer.flush()
        else:
            old.write(data)
            old.flush()


class EncodedFile(io.TextIOWrapper):
    """The text stream over capfd's file, with the ``name`` and ``mode`` of a file (as pytest's)."""

    @property
    def name(self) -> str:
        return repr(self.buffer)

    @property
    def mode(self) -> str:
        return self.buffer.mode.replace("b", "")


def _anonymous_file() -> Any:
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("dbtest-capfd", os.MFD_CLOEXEC), "wb+", buffering=0)  # noqa: SIM115
    import tempfile  # pragma: no cover - non-Linux

    return tempfile.TemporaryFile(buffering=0)  # noqa: SIM115


class _FDCapture:
    """Points a file descriptor (1 or 2) at a file of its own, and the matching
    ``sys`` stream at that file too."""

    def __init__(self, targetfd: int, binary: bool) -> None:
        self.targetfd = targetfd
        self.binary = binary
        try:
            os.fstat(targetfd)
        except OSError:
            # A test closed the descriptor: capture works all the same, on a
            # placeholder that is closed again at the end.
            self.targetfd_invalid: int | None = os.open(os.devnull, os.O_RDWR)
            os.dup2(self.targetfd_invalid, targetfd)
        else:
            self.targetfd_invalid = None
        self.targetfd_save = os.dup(targetfd)
        self.tmpfile = EncodedFile(
            _anonymous_file(), encoding="utf-8", errors="replace", newline="", write_through=True
        )
        self.syscapture = _SysCapture(targetfd, binary, self.tmpfile)

    def _flush_sys(self) -> None:
        # Output the test's stream still buffers belongs where it was written
        # before the descriptor moves.
        try:
            getattr(sys, self.syscapture.name).flush()
        except Exception:  # a test may have closed or replaced the stream
            pass

    def start(self) -> None:
        self._flush_sys()
        os.dup2(self.tmpfile.fileno(), self.targetfd)
        self.syscapture.start()

    def suspend(self) -> None:
        self._flush_sys()
        self.syscapture.suspend()
        os.dup2(self.targetfd_save, self.targetfd)

    def resume(self) -> None:
        self._flush_sys()
        self.syscapture.resume()
        os.dup2(self.tmpfile.fileno(), self.targetfd)

    def done(self, only_if_ours: bool = False) -> None:
        self._flush_sys()
        os.dup2(self.targetfd_save, self.targetfd)
        os.close(self.targetfd_save)
        if self.targetfd_invalid is not None:
            if self.targetfd_invalid != self.targetfd:
                os.close(self.targetfd)
            os.close(self.targetfd_invalid)
        self.syscapture.done(only_if_ours)

    def snap(self) -> Any:
        self._flush_sys()
        tmpfile = self.tmpfile
        if os.fstat(tmpfile.fileno()).st_size == 0:
            return b"" if self.binary else ""
        tmpfile.seek(0)
        data = tmpfile.buffer.read() if self.binary else tmpfile.read()
        tmpfile.seek(0)
        tmpfile.truncate()
        return data

    def writeorg(self, data: Any) -> None:
        os.write(self.targetfd_save, data if self.binary else data.encode("utf-8"))


class _MultiCapture:
    """The capture of fd/stream 1 and 2 together."""

    def __init__(self, out: Any, err: Any) -> None:
        self.out = out
        self.err = err
        self.started = False

    def start(self) -> None:
        self.out.start()
        self.err.start()
        self.started = True

    def suspend(self) -> None:
        self.out.suspend()
        self.err.suspend()
        self.started = False

    def resume(self) -> None:
        self.out.resume()
        self.err.resume()
        self.started = True

    def stop(self, only_if_ours: bool = False) -> None:
        self.out.done(only_if_ours)
        self.err.done(only_if_ours)
        self.started = False

    def readouterr(self) -> tuple[Any, Any]:
        return self.out.snap(), self.err.snap()

    def pop_outerr_to_orig(self) -> tuple[Any, Any]:
        out, err = self.readouterr()
        if out:
            self.out.writeorg(out)
        if err:
            self.err.writeorg(err)
        return out, err


# The capture fixture of the test running now: pytest allows one at a time.
_active: CaptureFixture | None = None


class CaptureFixture:
    """What ``capsys``, ``capsysbinary``, ``capteesys``, ``capfd`` and ``capfdbinary`` return."""

    def __init__(self, method: str, binary: bool, request: Any, tee: bool = False) -> None:
        self.method = method  # "sys" or "fd"
        self.binary = binary
        self.tee = tee
        self.request = request
        self._capture: _MultiCapture | None = None
        empty: Any = b"" if binary else ""
        self._empty = empty
        self._captured_out = empty
        self._captured_err = empty

    def _start(self) -> None:
        if self._capture is not None:
            return
        if self.method == "fd":
            out: Any = _FDCapture(1, self.binary)
            err: Any = _FDCapture(2, self.binary)
        else:
            out = _SysCapture(1, self.binary, tee=self.tee)
            err = _SysCapture(2, self.binary, tee=self.tee)
        self._capture = _MultiCapture(out, err)
        self._capture.start()

    def close(self, abandoned: bool = False) -> None:
        """Stops capturing; what was not read goes to the test's output (and
        can still be read). An ``abandoned`` fixture (its teardown never came)
        puts back only the ``sys`` streams that are still its own: others have
        put theirs in place since."""
        if self._capture is None:
            return
        self._pop_to_orig()
        self._capture.stop(only_if_ours=abandoned)
        self._capture = None

    def _pop_to_orig(self) -> None:
        assert self._capture is not None
        if self.tee:
            # Already written through as it came.
            out, err = self._capture.readouterr()
        else:
            out, err = self._capture.pop_outerr_to_orig()
        self._captured_out += out
        self._captured_err += err

    def phase_started(self, when: str) -> None:
        """pytest hands what was not read over to the test's output at the end of each phase."""
        if self._capture is not None:
            self._pop_to_orig()

    def readouterr(self) -> CaptureResult:
        """The output captured so far, as ``(out, err)``; resets the capture."""
        captured_out, captured_err = self._captured_out, self._captured_err
        if self._capture is not None:
            out, err = self._capture.readouterr()
            captured_out += out
            captured_err += err
        self._captured_out = self._captured_err = self._empty
        return CaptureResult(captured_out, captured_err)

    def _suspend(self) -> None:
        if self._capture is not None:
            self._capture.suspend()

    def _resume(self) -> None:
        if self._capture is not None:
            self._capture.resume()

    def _is_started(self) -> bool:
        return self._capture is not None and self._capture.started

    def disabled(self) -> Any:
        """A context manager in which output is not captured by this fixture."""
        return _Disabled(self)

    def __repr__(self) -> str:
        return f"<CaptureFixture {self.request.fixturename} method={self.method} binary={self.binary}>"


class _Disabled:
    def __init__(self, fixture: CaptureFixture) -> None:
        self.fixture = fixture
        self.suspended = False

    def __enter__(self) -> None:
        self.suspended = self.fixture._is_started()
        if self.suspended:
            self.fixture._suspend()

    def __exit__(self, *exc_info: object) -> None:
        if self.suspended:
            self.fixture._resume()


def start(method: str, binary: bool, request: Any, tee: bool = False) -> CaptureFixture:
    """A started capture fixture for the test; an error if it already uses another one."""
    global _active
    fixture = CaptureFixture(method, binary, request, tee)
    if _active is not None and _active.request.node is not request.node:
        # Another test's, whose teardown never came: it must not capture this
        # test's output, nor keep every later test from capturing.
        finish(_active, abandoned=True)
    if _active is not None:
        message = f"cannot use {request.fixturename} and {_active.request.fixturename} at the same time"
        raiseerror = getattr(request, "raiseerror", None)
        if raiseerror is not None:
            raiseerror(message)
        raise LookupError(message)
    _active = fixture
    fixture._start()
    phases.listen_to_phases(fixture.phase_started)
    return fixture


def finish(fixture: CaptureFixture, abandoned: bool = False) -> None:
    global _active
    phases.stop_listening_to_phases(fixture.phase_started)
    try:
        fixture.close(abandoned)
    finally:
        if _active is fixture:
            _active = None


def active() -> CaptureFixture | None:
    """The capture fixture of the running test, if any."""
    return _active
