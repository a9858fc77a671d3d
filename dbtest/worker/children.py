"""Finding and ending child processes a test leaves running.

After each test the worker reads its own list of child processes (one ``pread``
of ``/proc/self/task/<pid>/children``, about half a microsecond). Children that
were not there before are ended, with their own descendants, and reported as a
warning on the test. psutil is imported only when that happens. Children started
by module or class fixtures belong to the fixtures and are left alone, as are
multiprocessing's helper processes (resource tracker, forkserver), which live as
long as the worker by design.
"""

from __future__ import annotations

import os

from . import descriptors

_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver", "multiprocessing.semaphore_tracker")


class ChildWatch:
    def __init__(self) -> None:
        try:
            fd = os.open(f"/proc/self/task/{os.getpid()}/children", os.O_RDONLY | os.O_CLOEXEC)
            self._fd: int | None = descriptors.move_high(fd)
        except OSError:  # not Linux, or no CONFIG_PROC_CHILDREN: nothing to watch
            self._fd = None
        self._known: bytes = self._read()
        self._helpers: set[int] = set()

    def _read(self) -> bytes:
        if self._fd is None:
            return b""
        try:
            return os.pread(self._fd, 1 << 16, 0)
        except OSError:
            return b""

    def accept(self) -> None:
        """The current children are the fixtures' own: do not blame the next test."""
        self._known = self._read()

    def check(self) -> list[str]:
        """Ends children started since the last check; returns what it did."""
        now = self._read()
        if now == self._known:
            return []
        before = set(self._known.split())
        new = [int(pid) for pid in now.split() if pid not in before and int(pid) not in self._helpers]
        warnings = self._end(new) if new else []
        self._known = self._read()
        return warnings

    def _end(self, pids: list[int]) -> list[str]:
        import psutil

        warnings = []
        for pid in pids:
            try:
                process = psutil.Process(pid)
                if process.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(pid, os.WNOHANG)
                    continue
                cmdline = " ".join(process.cmdline()) or process.name()
                if any(helper in cmdline for helper in _HELPERS):
                    self._helpers.add(pid)
                    continue
                tree = [*process.children(recursive=True), process]
                for member in tree:
                    try:
                        member.kill()
                    except psutil.NoSuchProcess:
                        pass
                psutil.wait_procs(tree, timeout=2)
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                extra = f" and {len(tree) - 1} of its descendants" if len(tree) > 1 else ""
                warnings.append(f"killed child process {pid} ({cmdline[:200]}){extra} left running by the test")
            except (psutil.NoSuchProcess, ChildProcessError):
                continue
            except psutil.Error as exc:
                warnings.append(f"could not end child process {pid} left running by the test: {exc}")
        return warnings
